import type { LocalizedText } from './error-codes.js';

/**
 * Why an image is reported, and the rule a takedown names: one closed list, so the owner's email
 * and the review screen say the same words. The ids are stable (stored in reports and takedowns).
 */
export const MODERATION_REASONS = ['sexual', 'minors', 'violence', 'hate', 'harassment', 'self-harm', 'illegal', 'copyright', 'spam', 'other'] as const;
export type ModerationReason = (typeof MODERATION_REASONS)[number];

export const MODERATION_REASON_TEXT: Readonly<Record<ModerationReason, LocalizedText>> = {
  sexual: { en: 'sexual content', zh: '色情内容' },
  minors: { en: 'content that endangers minors', zh: '危害未成年人的内容' },
  violence: { en: 'graphic violence', zh: '血腥暴力内容' },
  hate: { en: 'hateful content', zh: '仇恨内容' },
  harassment: { en: 'harassment of a real person', zh: '骚扰真实人物' },
  'self-harm': { en: 'promotion of self-harm', zh: '宣扬自我伤害' },
  illegal: { en: 'illegal activity', zh: '违法活动' },
  copyright: { en: "someone else's copyright or trademark", zh: '侵犯他人版权或商标' },
  spam: { en: 'spam or deception', zh: '垃圾信息或欺诈' },
  other: { en: 'another breach of the content policy', zh: '其他违反内容政策的情况' },
};

export function isModerationReason(value: unknown): value is ModerationReason {
  return typeof value === 'string' && (MODERATION_REASONS as readonly string[]).includes(value);
}
