/**
 * The content policy checked before anything is charged. Each rule has an id that the 422 names,
 * and terms in English and Chinese. Matching runs on the normalised prompt (NFKC, lower case,
 * zero-width characters removed), Latin terms on word boundaries, CJK terms as substrings (Chinese
 * has no spaces between words).
 */
import type { LocalizedText } from '@imlab/contracts';

export interface PolicyRule {
  id: string;
  /** What the rule forbids, in both languages (the 422's message names it). */
  description: LocalizedText;
  terms: string[];
}

export const POLICY_RULES: PolicyRule[] = [
  {
    id: 'minors-sexual',
    description: { en: 'sexual content involving minors', zh: '涉及未成年人的色情内容' },
    terms: ['child porn', 'child sexual', 'underage nude', 'underage sex', 'loli hentai', 'naked child', '儿童色情', '幼女色情', '未成年色情', '未成年裸体', '萝莉色情'],
  },
  {
    id: 'sexual-violence',
    description: { en: 'sexual violence', zh: '性暴力' },
    terms: ['rape', 'raping', 'sexual assault', '强奸', '性侵'],
  },
  {
    id: 'terrorism',
    description: { en: 'terrorist propaganda or graphic executions', zh: '恐怖主义宣传或血腥处决画面' },
    terms: ['beheading', 'isis propaganda', 'terrorist recruitment', '斩首', '恐怖主义宣传', '恐怖分子招募'],
  },
  {
    id: 'self-harm',
    description: { en: 'encouragement of self-harm', zh: '鼓励自我伤害' },
    terms: ['how to kill myself', 'suicide instructions', 'self-harm tutorial', '自杀方法', '自残教程'],
  },
  {
    id: 'non-consensual-intimate',
    description: { en: 'intimate imagery of real people without consent', zh: '未经同意的真实人物私密影像' },
    terms: ['deepfake nude', 'revenge porn', 'undress photo of', '换脸色情', '偷拍裸照'],
  },
];

const ZERO_WIDTH = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;
const CJK = /[\u3400-\u9FFF\uF900-\uFAFF]/;

/** The form prompts are stored and checked in: NFKC, no zero-width or control characters, single spaces. */
export function normalisePrompt(text: string): string {
  return text
    .normalize('NFKC')
    .replace(ZERO_WIDTH, '')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, ' ')
    .replace(/[ \t\r\n]+/g, ' ')
    .trim();
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const compiled = POLICY_RULES.map((rule) => ({
  rule,
  patterns: rule.terms.map((t) => (CJK.test(t) ? new RegExp(escape(t).replace(/\s+/g, '\\s*'), 'u') : new RegExp(`(?<![\\p{L}\\p{N}])${escape(t).replace(/\s+/g, '[\\s_\\-.]*')}(?![\\p{L}\\p{N}])`, 'iu'))),
}));

/** The first rule a text breaks, or undefined. */
export function checkPolicy(...texts: (string | null | undefined)[]): PolicyRule | undefined {
  for (const text of texts) {
    if (!text) continue;
    const t = text.toLowerCase();
    // "r a p e", "r.a.p.e": runs of single letters are read as one word too.
    const joined = t.replace(/(?<![\p{L}\p{N}])\p{L}(?:[\s._*-]+\p{L}(?![\p{L}\p{N}]))+/gu, (m) => m.replace(/[\s._*-]+/g, ''));
    for (const { rule, patterns } of compiled) if (patterns.some((p) => p.test(t) || p.test(joined))) return rule;
  }
  return undefined;
}
