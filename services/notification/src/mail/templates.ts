import { MODERATION_REASON_TEXT, isModerationReason, type EmailTemplate, type ModerationReason } from '@imlab/contracts';
import type { Locale } from '../db.js';
import type { EmailContent } from './content.js';
import { TemplateDataError, formatDate, formatInt, formatMoney, type TemplateData } from './data.js';

/*
 * Copy for every template in English and Chinese. Data keys each template reads (documented for
 * callers in packages/contracts/src/messages/notification.ts). Paths of the web app that this
 * service links to itself: /login, /forgot-password, /settings/security, /billing/orders,
 * /pricing, /generations/:id, /content-policy, /terms.
 */

type Copy = (d: TemplateData) => EmailContent;

const hi = (d: TemplateData): string => {
  const name = d.displayName;
  return d.locale === 'zh' ? (name ? `${name}，你好：` : '你好：') : name ? `Hi ${name},` : 'Hi,';
};

/** The rule a takedown names, in the email's language (an unknown id is a permanent failure). */
const ruleOf = (d: TemplateData): ModerationReason => {
  const rule = d.string('rule', 40);
  if (!isModerationReason(rule)) throw new TemplateDataError('data.rule must be one of MODERATION_REASONS');
  return rule;
};

export const TEMPLATES: Record<EmailTemplate, Record<Locale, Copy>> = {
  'account-suspended': {
    en: (d) => ({
      subject: 'Your account is suspended',
      preheader: 'You cannot sign in to imagemakerlab for now.',
      greeting: hi(d),
      paragraphs: [
        'We have suspended your imagemakerlab account after a review under our terms and content policy. You are signed out everywhere, and you cannot sign in, create, publish or buy credits while the suspension lasts.',
        'Your images and credits are kept. If you think this is a mistake, reply to this email and tell us why.',
      ],
      action: { label: 'Read the terms', url: d.path('/terms') },
    }),
    zh: (d) => ({
      subject: '你的账户已被暂停',
      preheader: '你暂时无法登录 imagemakerlab。',
      greeting: hi(d),
      paragraphs: [
        '经审核，我们依据服务条款和内容政策暂停了你的 imagemakerlab 账户。你已在所有设备上退出登录；暂停期间无法登录、创作、发布或购买积分。',
        '你的图片和积分会被保留。如果你认为这是误判，请回复此邮件说明理由。',
      ],
      action: { label: '阅读服务条款', url: d.path('/terms') },
    }),
  },
  'account-reinstated': {
    en: (d) => ({
      subject: 'Your account is active again',
      preheader: 'You can sign in to imagemakerlab again.',
      greeting: hi(d),
      paragraphs: ['The suspension of your imagemakerlab account has been lifted. You can sign in, create, publish and buy credits again.'],
      action: { label: 'Sign in', url: d.path('/login') },
    }),
    zh: (d) => ({
      subject: '你的账户已恢复',
      preheader: '你可以重新登录 imagemakerlab 了。',
      greeting: hi(d),
      paragraphs: ['你的 imagemakerlab 账户已解除暂停。你可以重新登录、创作、发布和购买积分。'],
      action: { label: '登录', url: d.path('/login') },
    }),
  },
  'image-taken-down': {
    en: (d) => {
      const at = d.optionalDate('takenDownAt');
      return {
        subject: 'One of your gallery images was taken down',
        preheader: 'A moderator removed an image from the public gallery.',
        greeting: hi(d),
        paragraphs: [
          `${at ? `On ${formatDate('en', at)}, a` : 'A'} moderator took one of your images out of the public gallery because it breaks our content policy: ${MODERATION_REASON_TEXT[ruleOf(d)].en}.`,
          'The image is still in your library, visible only to you, and it cannot be published again. If you think this was a mistake, reply to this email and tell us why.',
        ],
        action: { label: 'Read the content policy', url: d.path('/content-policy') },
        footnote: 'Repeated breaches of the content policy can lead to the account being suspended.',
      };
    },
    zh: (d) => {
      const at = d.optionalDate('takenDownAt');
      return {
        subject: '你在画廊中的一张图片已被下架',
        preheader: '审核员将一张图片从公开画廊中移除。',
        greeting: hi(d),
        paragraphs: [
          `${at ? `${formatDate('zh', at)}，` : ''}审核员将你的一张图片从公开画廊中下架，因为它违反了我们的内容政策：${MODERATION_REASON_TEXT[ruleOf(d)].zh}。`,
          '这张图片仍在你的图库中，只有你自己可以看到，但无法再次发布。如果你认为这是误判，请回复此邮件说明理由。',
        ],
        action: { label: '阅读内容政策', url: d.path('/content-policy') },
        footnote: '多次违反内容政策可能导致账户被暂停。',
      };
    },
  },
  'google-sign-in-refused': {
    en: (d) => {
      const at = d.optionalDate('attemptedAt');
      return {
        subject: 'A Google sign-in to your account was refused',
        preheader: 'A security notice about your account.',
        greeting: hi(d),
        paragraphs: [
          `${at ? `On ${formatDate('en', at)}, someone` : 'Someone'} tried to sign in to your imagemakerlab account with a Google account other than the one linked to it. Google said it holds your email address, so we did not let it in and changed nothing.`,
          'If that was you with a new Google account, sign in with your linked Google account or your password.',
        ],
        action: { label: 'Review account security', url: d.path('/settings/security') },
        footnote: `If this was not you, your account is safe; consider resetting your password at ${d.path('/forgot-password')}.`,
      };
    },
    zh: (d) => {
      const at = d.optionalDate('attemptedAt');
      return {
        subject: '有人尝试用 Google 登录你的账户，已被拒绝',
        preheader: '关于你账户的安全通知。',
        greeting: hi(d),
        paragraphs: [
          `${at ? `${formatDate('zh', at)}，有人` : '有人'}尝试使用另一个 Google 账户（而非你已关联的那个）登录你的 imagemakerlab 账户。Google 声称该账户拥有你的邮箱地址，但我们没有放行，也没有做任何更改。`,
          '如果这是你本人使用了新的 Google 账户，请使用已关联的 Google 账户或密码登录。',
        ],
        action: { label: '查看账户安全', url: d.path('/settings/security') },
        footnote: `如果这不是你本人的操作，你的账户仍然安全；建议前往 ${d.path('/forgot-password')} 重置密码。`,
      };
    },
  },
  'verify-email': {
    en: (d) => ({
      subject: 'Confirm your email address',
      preheader: 'One click to finish setting up your imagemakerlab account.',
      greeting: hi(d),
      paragraphs: ['Welcome to imagemakerlab. Please confirm that this is your email address so that we can keep your account safe.'],
      action: { label: 'Confirm email address', url: d.link('link') },
      footnote: 'If you did not sign up for imagemakerlab, you can ignore this email.',
    }),
    zh: (d) => ({
      subject: '请确认你的邮箱地址',
      preheader: '点击一下，完成 imagemakerlab 账户的设置。',
      greeting: hi(d),
      paragraphs: ['欢迎来到 imagemakerlab。请确认这是你的邮箱地址，以便我们保护你的账户安全。'],
      action: { label: '确认邮箱地址', url: d.link('link') },
      footnote: '如果你没有注册 imagemakerlab，请忽略这封邮件。',
    }),
  },
  'password-reset': {
    en: (d) => {
      const minutes = d.optionalInt('expiresInMinutes');
      return {
        subject: 'Reset your password',
        preheader: 'A link to choose a new password.',
        greeting: hi(d),
        paragraphs: [
          'Someone asked to reset the password of your imagemakerlab account. Use the button below to choose a new one.',
          ...(minutes ? [`The link works once and expires in ${formatInt('en', minutes)} minutes.`] : ['The link works once and expires soon.']),
        ],
        action: { label: 'Choose a new password', url: d.link('link') },
        footnote: 'If you did not ask for this, you can ignore this email: your password stays as it is.',
      };
    },
    zh: (d) => {
      const minutes = d.optionalInt('expiresInMinutes');
      return {
        subject: '重置你的密码',
        preheader: '用于设置新密码的链接。',
        greeting: hi(d),
        paragraphs: [
          '有人请求重置你的 imagemakerlab 账户密码。请点击下面的按钮设置新密码。',
          minutes ? `该链接只能使用一次，将在 ${formatInt('zh', minutes)} 分钟后失效。` : '该链接只能使用一次，并会很快失效。',
        ],
        action: { label: '设置新密码', url: d.link('link') },
        footnote: '如果这不是你本人的操作，请忽略这封邮件，你的密码不会改变。',
      };
    },
  },
  'password-changed': {
    en: (d) => {
      const at = d.optionalDate('changedAt');
      return {
        subject: 'Your password was changed',
        preheader: 'A security notice about your account.',
        greeting: hi(d),
        paragraphs: [
          at ? `The password of your imagemakerlab account was changed on ${formatDate('en', at)}.` : 'The password of your imagemakerlab account was just changed.',
          'All other sessions were signed out.',
        ],
        action: { label: 'Review account security', url: d.path('/settings/security') },
        footnote: `If this was not you, reset your password now at ${d.path('/forgot-password')} and contact support.`,
      };
    },
    zh: (d) => {
      const at = d.optionalDate('changedAt');
      return {
        subject: '你的密码已更改',
        preheader: '关于你账户的安全通知。',
        greeting: hi(d),
        paragraphs: [
          at ? `你的 imagemakerlab 账户密码已于 ${formatDate('zh', at)} 更改。` : '你的 imagemakerlab 账户密码刚刚被更改。',
          '其他所有会话均已退出登录。',
        ],
        action: { label: '查看账户安全', url: d.path('/settings/security') },
        footnote: `如果这不是你本人的操作，请立即前往 ${d.path('/forgot-password')} 重置密码并联系客服。`,
      };
    },
  },
  'purchase-receipt': {
    en: (d) => ({
      subject: 'Your imagemakerlab receipt',
      preheader: `${formatInt('en', d.int('credits'))} credits added to your account.`,
      greeting: hi(d),
      paragraphs: ['Thank you for your purchase. The credits are in your account and ready to use.'],
      facts: [
        ['Order', d.string('orderId', 64)],
        ['Credits', formatInt('en', d.int('credits'))],
        ['Amount paid', formatMoney('en', d.int('amount'), d.string('currency', 3))],
      ],
      action: { label: 'View your orders', url: d.path('/billing/orders') },
      footnote: 'Payment was processed by Stripe; we never see or store your card details.',
    }),
    zh: (d) => ({
      subject: '你的 imagemakerlab 收据',
      preheader: `${formatInt('zh', d.int('credits'))} 点积分已加入你的账户。`,
      greeting: hi(d),
      paragraphs: ['感谢你的购买。积分已到账，可以立即使用。'],
      facts: [
        ['订单号', d.string('orderId', 64)],
        ['积分', formatInt('zh', d.int('credits'))],
        ['支付金额', formatMoney('zh', d.int('amount'), d.string('currency', 3))],
      ],
      action: { label: '查看订单', url: d.path('/billing/orders') },
      footnote: '付款由 Stripe 处理；我们不会看到或保存你的银行卡信息。',
    }),
  },
  'low-balance': {
    en: (d) => ({
      subject: 'Your credits are running low',
      preheader: `${formatInt('en', d.int('available'))} credits left.`,
      greeting: hi(d),
      paragraphs: [`You have ${formatInt('en', d.int('available'))} credits left. Top up any time to keep creating without interruption.`],
      action: { label: 'See credit packs', url: d.path('/pricing') },
    }),
    zh: (d) => ({
      subject: '你的积分余额不足',
      preheader: `剩余 ${formatInt('zh', d.int('available'))} 点积分。`,
      greeting: hi(d),
      paragraphs: [`你还剩 ${formatInt('zh', d.int('available'))} 点积分。随时充值，创作不中断。`],
      action: { label: '查看积分套餐', url: d.path('/pricing') },
    }),
  },
  'generation-refunded': {
    en: (d) => {
      const credits = d.optionalInt('credits');
      return {
        subject: 'Credits returned for a generation',
        preheader: 'A generation could not be completed; nothing was charged.',
        greeting: hi(d),
        paragraphs: [
          'One of your generations could not be completed.',
          credits ? `The ${formatInt('en', credits)} credits reserved for it are back in your account.` : 'The credits reserved for it are back in your account.',
        ],
        action: { label: 'Open the generation', url: d.path(`/generations/${encodeURIComponent(d.string('generationId', 64))}`) },
      };
    },
    zh: (d) => {
      const credits = d.optionalInt('credits');
      return {
        subject: '一次生成的积分已退回',
        preheader: '一次生成未能完成，未扣除任何积分。',
        greeting: hi(d),
        paragraphs: ['你的一次生成未能完成。', credits ? `为它预留的 ${formatInt('zh', credits)} 点积分已退回你的账户。` : '为它预留的积分已退回你的账户。'],
        action: { label: '查看这次生成', url: d.path(`/generations/${encodeURIComponent(d.string('generationId', 64))}`) },
      };
    },
  },
  'account-deletion-scheduled': {
    en: (d) => ({
      subject: 'Your account is scheduled for deletion',
      preheader: 'Your account and everything in it will be deleted.',
      greeting: hi(d),
      paragraphs: [
        'We received your request to delete your imagemakerlab account. The account is disabled and you have been signed out everywhere.',
        `On ${formatDate('en', d.date('purgeAfter'))} your profile, images and transaction history will be permanently deleted.`,
        'Changed your mind? Sign in before that date and choose to keep the account: everything in it comes back, and your published images return to the gallery.',
      ],
      action: { label: 'Sign in to keep the account', url: d.path('/sign-in') },
      footnote: 'If you did not ask for this, sign in and keep the account, then change your password.',
    }),
    zh: (d) => ({
      subject: '你的账户已安排删除',
      preheader: '你的账户及其中的全部内容将被删除。',
      greeting: hi(d),
      paragraphs: [
        '我们已收到删除你的 imagemakerlab 账户的请求。账户已停用，你已在所有设备上退出登录。',
        `你的个人资料、图片和交易记录将于 ${formatDate('zh', d.date('purgeAfter'))} 被永久删除。`,
        '改变主意了？在该日期之前登录并选择保留账户：其中的一切都会恢复，你公开的图片也会回到画廊。',
      ],
      action: { label: '登录以保留账户', url: d.path('/sign-in') },
      footnote: '如果这不是你本人的请求，请登录并保留账户，然后修改密码。',
    }),
  },
  'account-deleted': {
    en: (d) => ({
      subject: 'Your account has been deleted',
      preheader: 'Your imagemakerlab account no longer exists.',
      greeting: hi(d),
      paragraphs: [
        'Your imagemakerlab account has been deleted, together with your profile, images and transaction history.',
        'Accounting records we must keep by law no longer carry anything that identifies you. This is the last email you will receive from us.',
      ],
    }),
    zh: (d) => ({
      subject: '你的账户已删除',
      preheader: '你的 imagemakerlab 账户已不存在。',
      greeting: hi(d),
      paragraphs: [
        '你的 imagemakerlab 账户已被删除，个人资料、图片和交易记录也一并删除。',
        '依法必须保留的会计记录已不再包含任何能识别你身份的信息。这是你从我们这里收到的最后一封邮件。',
      ],
    }),
  },
  'email-change-confirm': {
    en: (d) => {
      const hours = d.optionalInt('expiresInHours');
      return {
        subject: 'Confirm your new email address',
        preheader: 'One click to move your imagemakerlab account to this address.',
        greeting: hi(d),
        paragraphs: [
          'You asked to sign in to your imagemakerlab account with this email address from now on. Confirm that this inbox is yours to finish the change.',
          ...(hours ? [`The link works for ${formatInt('en', hours)} hours.`] : []),
        ],
        action: { label: 'Confirm new address', url: d.link('link') },
        footnote: 'If you did not ask for this, ignore this email: nothing changes.',
      };
    },
    zh: (d) => {
      const hours = d.optionalInt('expiresInHours');
      return {
        subject: '请确认你的新邮箱地址',
        preheader: '一键把你的 imagemakerlab 账户改用此地址。',
        greeting: hi(d),
        paragraphs: ['你请求今后使用此邮箱地址登录 imagemakerlab 账户。请确认此邮箱属于你，以完成更改。', ...(hours ? [`该链接在 ${formatInt('zh', hours)} 小时内有效。`] : [])],
        action: { label: '确认新地址', url: d.link('link') },
        footnote: '如果这不是你本人的请求，请忽略这封邮件：不会有任何更改。',
      };
    },
  },
  'email-changed': {
    en: (d) => {
      const days = d.optionalInt('undoDays');
      return {
        subject: 'The email address of your account was changed',
        preheader: 'A security notice about your account.',
        greeting: hi(d),
        paragraphs: [
          `Your imagemakerlab account now signs in with ${d.string('newEmailMasked')}. Emails about the account go there from now on; this is the last one to this address.`,
          `If you did not make this change, take it back${days ? ` within ${formatInt('en', days)} days` : ''}: the account returns to this address, every session is signed out and you choose a new password.`,
        ],
        action: { label: 'This was not me: undo the change', url: d.link('link') },
        footnote: 'If you made the change, there is nothing to do.',
      };
    },
    zh: (d) => {
      const days = d.optionalInt('undoDays');
      return {
        subject: '你账户的邮箱地址已更改',
        preheader: '关于你账户的安全通知。',
        greeting: hi(d),
        paragraphs: [
          `你的 imagemakerlab 账户现在使用 ${d.string('newEmailMasked')} 登录。今后有关账户的邮件将发往该地址；这是发往本地址的最后一封。`,
          `如果这不是你本人的操作，请${days ? `在 ${formatInt('zh', days)} 天内` : ''}撤销：账户将改回本地址，所有会话都会退出登录，并由你设置新密码。`,
        ],
        action: { label: '不是我本人操作：撤销更改', url: d.link('link') },
        footnote: '如果是你本人更改的，无需任何操作。',
      };
    },
  },
  'google-linked': {
    en: (d) => {
      const at = d.optionalDate('linkedAt');
      return {
        subject: 'A Google account was linked to your account',
        preheader: 'A security notice about your account.',
        greeting: hi(d),
        paragraphs: [`${at ? `On ${formatDate('en', at)} a` : 'A'} Google account was linked to your imagemakerlab account. You can now sign in with Google as well.`],
        action: { label: 'Review account security', url: d.path('/settings/security') },
        footnote: `If this was not you, unlink it in your settings and reset your password at ${d.path('/forgot-password')}.`,
      };
    },
    zh: (d) => {
      const at = d.optionalDate('linkedAt');
      return {
        subject: '你的账户已关联一个 Google 账户',
        preheader: '关于你账户的安全通知。',
        greeting: hi(d),
        paragraphs: [`${at ? `${formatDate('zh', at)}，` : ''}一个 Google 账户已关联到你的 imagemakerlab 账户。现在你也可以用 Google 登录。`],
        action: { label: '查看账户安全', url: d.path('/settings/security') },
        footnote: `如果这不是你本人的操作，请在设置中取消关联，并前往 ${d.path('/forgot-password')} 重置密码。`,
      };
    },
  },
  'google-unlinked': {
    en: (d) => {
      const at = d.optionalDate('unlinkedAt');
      return {
        subject: 'Google was unlinked from your account',
        preheader: 'A security notice about your account.',
        greeting: hi(d),
        paragraphs: [`${at ? `On ${formatDate('en', at)} the` : 'The'} Google account was unlinked from your imagemakerlab account. Sign in with your email address and password from now on.`],
        action: { label: 'Review account security', url: d.path('/settings/security') },
        footnote: `If this was not you, reset your password now at ${d.path('/forgot-password')}.`,
      };
    },
    zh: (d) => {
      const at = d.optionalDate('unlinkedAt');
      return {
        subject: '你的账户已取消关联 Google',
        preheader: '关于你账户的安全通知。',
        greeting: hi(d),
        paragraphs: [`${at ? `${formatDate('zh', at)}，` : ''}Google 账户已与你的 imagemakerlab 账户取消关联。今后请使用邮箱地址和密码登录。`],
        action: { label: '查看账户安全', url: d.path('/settings/security') },
        footnote: `如果这不是你本人的操作，请立即前往 ${d.path('/forgot-password')} 重置密码。`,
      };
    },
  },
  'account-deletion-cancelled': {
    en: (d) => ({
      subject: 'Your account will not be deleted',
      preheader: 'You kept your imagemakerlab account.',
      greeting: hi(d),
      paragraphs: ['You chose to keep your imagemakerlab account, so its deletion is cancelled. Your profile, images and credits are as you left them; images you had published are back in the gallery.'],
      action: { label: 'Open imagemakerlab', url: d.path('/library') },
      footnote: `If this was not you, reset your password now at ${d.path('/forgot-password')} and delete the account again from its settings.`,
    }),
    zh: (d) => ({
      subject: '你的账户不会被删除',
      preheader: '你保留了 imagemakerlab 账户。',
      greeting: hi(d),
      paragraphs: ['你选择保留 imagemakerlab 账户，删除已取消。你的个人资料、图片和积分都保持原样；你曾公开的图片已重新出现在画廊中。'],
      action: { label: '打开 imagemakerlab', url: d.path('/library') },
      footnote: `如果这不是你本人的操作，请立即前往 ${d.path('/forgot-password')} 重置密码，并在设置中再次删除账户。`,
    }),
  },
  'export-ready': {
    en: (d) => {
      const until = d.optionalDate('expiresAt');
      return {
        subject: 'Your data export is ready',
        preheader: 'Download your images and transaction history.',
        greeting: hi(d),
        paragraphs: [
          'The export you asked for is ready: all your images and your transaction history in one archive.',
          ...(until ? [`The download link works until ${formatDate('en', until)}.`] : []),
        ],
        action: { label: 'Download your export', url: d.link('link') },
        footnote: 'You need to be signed in to download it.',
      };
    },
    zh: (d) => {
      const until = d.optionalDate('expiresAt');
      return {
        subject: '你的数据导出已准备好',
        preheader: '下载你的图片和交易记录。',
        greeting: hi(d),
        paragraphs: ['你请求的导出已准备好：你的全部图片和交易记录都在一个压缩包中。', ...(until ? [`下载链接在 ${formatDate('zh', until)} 之前有效。`] : [])],
        action: { label: '下载导出文件', url: d.link('link') },
        footnote: '下载时需要登录账户。',
      };
    },
  },
};
