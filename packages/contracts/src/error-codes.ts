import { Type } from '@sinclair/typebox';
import type { Locale } from './messages/common.js';

/**
 * Every error code the system answers, closed: its one HTTP status and what a person reads, in
 * English and Chinese (Simplified). A problem body's `detail` is the message of its code in the
 * person's language; its `title` the status phrase (RFC 9457: `type` is `about:blank`).
 *
 * A message is a sentence, or a function of named parameters the raising code passes
 * (`new AppError('GENERATION_PROMPT_TOO_LONG', { params: { maxChars: 2000 } })`). Messages of 5xx
 * codes never take parameters: they stay generic and never carry internals.
 *
 * Adding a code: add it here (status, en, zh), raise it with AppError, name it in docs/api.md
 * when a client is expected to act on it. A code never changes status; a different status is a
 * different code.
 */
export type Text<P> = string | ((params: P) => string);

export interface ErrorSpec<S extends number = number, P = undefined> {
  readonly status: S;
  readonly en: Text<P>;
  readonly zh: Text<P>;
}

/** Parameters are inferred from the message functions' parameter type; plain sentences take none. */
function spec<S extends number, P = undefined>(status: S, en: Text<P>, zh: Text<P>): ErrorSpec<S, P> {
  return { status, en, zh };
}

/** A phrase in both languages, for parameters that are themselves words (a policy rule's name). */
export interface LocalizedText {
  en: string;
  zh: string;
}

const INTERNAL_EN = 'Something went wrong on our side; please try again later.';
const INTERNAL_ZH = '服务器出现问题，请稍后再试。';
const UNAVAILABLE_EN = 'The service is temporarily unavailable; please try again shortly.';
const UNAVAILABLE_ZH = '服务暂时不可用，请稍后再试。';

const FINISHED_EN: Record<string, string> = { succeeded: 'has finished', failed: 'has failed', canceled: 'was already canceled', rejected: 'was rejected' };
const FINISHED_ZH: Record<string, string> = { succeeded: '已完成', failed: '已失败', canceled: '已取消', rejected: '已被拒绝' };

/** What the content policy refused (GENERATION_CONTENT_POLICY, IMAGE_CONTENT_POLICY). */
export type PolicyField = 'prompt' | 'negativePrompt' | 'referenceUploadIds' | 'image';
const POLICY_FIELD_EN: Record<PolicyField, string> = { prompt: 'The prompt', negativePrompt: 'The negative prompt', referenceUploadIds: 'A reference image', image: 'The image' };
const POLICY_FIELD_ZH: Record<PolicyField, string> = { prompt: '提示词', negativePrompt: '反向提示词', referenceUploadIds: '参考图片', image: '图片' };

/** A generation request's fields, in words (GENERATION_UNSUPPORTED_OPTION). */
const OPTION_EN: Record<string, string> = { size: 'size', aspectRatio: 'aspect ratio', count: 'number of images', seed: 'seed', negativePrompt: 'negative prompt', referenceUploadIds: 'reference image' };
const OPTION_ZH: Record<string, string> = { size: '尺寸', aspectRatio: '宽高比', count: '图片数量', seed: '随机种子', negativePrompt: '反向提示词', referenceUploadIds: '参考图片' };

export const ERROR_CODES = {
  // ── Any service, the gateway and the HTTP layer ─────────────────────────────────────────────
  VALIDATION_FAILED: spec(400, 'The request is not valid; the errors list says what to change.', '请求无效，请按 errors 列表中的说明修改。'),
  BAD_REQUEST: spec(400, 'The request could not be understood.', '无法理解该请求。'),
  MALFORMED_REQUEST: spec(400, 'The request is not valid HTTP.', '该请求不是有效的 HTTP 请求。'),
  INVALID_CURSOR: spec(400, 'This page link is no longer valid; start again from the first page.', '分页游标无效，请从第一页重新开始。'),
  UNAUTHENTICATED: spec(401, 'Sign in first.', '请先登录。'),
  FORBIDDEN: spec(403, 'You are not allowed to do this.', '你没有权限执行此操作。'),
  NOT_FOUND: spec(404, 'Nothing was found here.', '未找到请求的内容。'),
  REQUEST_TIMEOUT: spec(408, 'The request was not received in time.', '未能及时收到完整的请求。'),
  PAYLOAD_TOO_LARGE: spec(
    413,
    (p: { maxBytes: number } | undefined) => (p ? `The request body is too large; at most ${p.maxBytes} bytes are accepted.` : 'The request body is too large.'),
    (p) => (p ? `请求体过大，最多接受 ${p.maxBytes} 字节。` : '请求体过大。'),
  ),
  PATH_TOO_LONG: spec(414, 'A part of the address is too long.', '请求地址中的某一段过长。'),
  UNSUPPORTED_MEDIA_TYPE: spec(415, 'The content type of this request is not accepted here.', '此处不接受该请求的内容类型。'),
  RATE_LIMITED: spec(429, 'Too many requests; please wait a moment and try again.', '请求过于频繁，请稍后再试。'),
  REQUEST_HEADERS_TOO_LARGE: spec(431, 'The request headers are too large.', '请求头过大。'),
  INTERNAL: spec(500, INTERNAL_EN, INTERNAL_ZH),
  WEB_APP_NOT_BUILT: spec(503, 'The web app is not available on this server right now; try again shortly.', '此服务器上的网页应用暂时不可用，请稍后再试。'),
  /** A message that does not match its contract (a bug); raised by the bus. */
  CONTRACT_VIOLATION: spec(500, INTERNAL_EN, INTERNAL_ZH),
  UPSTREAM_FAILED: spec(502, 'The service failed to answer; please try again.', '服务未能正常响应，请重试。'),
  SERVICE_UNAVAILABLE: spec(503, UNAVAILABLE_EN, UNAVAILABLE_ZH),
  UPSTREAM_TIMEOUT: spec(504, 'The service took too long to answer; please try again.', '服务响应超时，请重试。'),

  // ── Gateway ─────────────────────────────────────────────────────────────────────────────────
  GATEWAY_BAD_PATH: spec(400, 'This request address is not allowed.', '不允许使用该请求地址。'),
  GATEWAY_SESSION_COOKIE_CONFLICT: spec(
    401,
    'This browser sent more than one session cookie; they were cleared. Please sign in again.',
    '此浏览器发送了多个会话 Cookie，已全部清除。请重新登录。',
  ),
  GATEWAY_CSRF_REJECTED: spec(403, 'This request came from another site and was refused.', '该请求来自其他网站，已被拒绝。'),
  GATEWAY_READ_ONLY: spec(405, 'The queue board is read-only.', '队列面板为只读。'),
  GATEWAY_LENGTH_REQUIRED: spec(411, 'This request body needs a Content-Length header.', '该请求体需要 Content-Length 请求头。'),

  // ── Auth ────────────────────────────────────────────────────────────────────────────────────
  AUTH_INVALID_TOKEN: spec(400, 'This link is invalid or has expired.', '该链接无效或已过期。'),
  AUTH_WEAK_PASSWORD: spec(
    400,
    (p: { rule: 'length'; min: number; max: number } | { rule: 'breached' }) =>
      p.rule === 'length' ? `The password must be ${p.min}–${p.max} characters long.` : 'This password appears in lists of common or breached passwords; choose another.',
    (p) => (p.rule === 'length' ? `密码长度须为 ${p.min}–${p.max} 个字符。` : '该密码出现在常见或已泄露的密码列表中，请换一个。'),
  ),
  AUTH_INVALID_CREDENTIALS: spec(401, 'The email or password is incorrect.', '邮箱或密码不正确。'),
  AUTH_SESSION_INVALID: spec(401, 'This session is no longer valid; sign in again.', '会话已失效，请重新登录。'),
  AUTH_EMAIL_NOT_VERIFIED: spec(403, 'Confirm your email address first; we can send the link again.', '请先验证你的邮箱地址；我们可以重新发送验证链接。'),
  AUTH_REAUTH_REQUIRED: spec(
    403,
    (p: { reason: 'wrong-password' | 'confirm' }) => (p.reason === 'wrong-password' ? 'The password is incorrect.' : 'Confirm with your password, or sign in again first.'),
    (p) => (p.reason === 'wrong-password' ? '密码不正确。' : '请输入密码确认，或先重新登录。'),
  ),
  /** A Google sign-in whose address belongs to an account already linked to another Google account (redirect reason `google_account_mismatch`). */
  AUTH_GOOGLE_ACCOUNT_MISMATCH: spec(
    409,
    'This email address belongs to an account that signs in with a different Google account. Sign in with that Google account or with your password.',
    '该邮箱地址所属的账户已关联另一个 Google 账户。请使用那个 Google 账户或密码登录。',
  ),
  /** A correct sign-in to an account scheduled for deletion: `purgeAfter` and a `restoreToken` (for POST /v1/auth/account/restore) come along. */
  AUTH_DELETION_SCHEDULED: spec(
    403,
    'This account is scheduled for deletion. You can keep it: everything in it is still here until the deletion date.',
    '该账户已安排删除。你可以保留它：在删除日期之前，其中的一切都还在。',
  ),
  AUTH_EMAIL_UNCHANGED: spec(400, 'This is already the email address of your account.', '这已经是你账户的邮箱地址。'),
  AUTH_EMAIL_TAKEN: spec(409, 'Another account uses this email address now; the change was not made.', '该邮箱地址现已被另一个账户使用，未作更改。'),
  AUTH_LAST_SIGN_IN_METHOD: spec(
    409,
    'This is the only way to sign in to your account. Set a password first, then unlink Google.',
    '这是你账户唯一的登录方式。请先设置密码，再取消关联 Google。',
  ),
  AUTH_GOOGLE_ALREADY_LINKED: spec(409, 'A Google account is already linked; unlink it first to link another.', '已关联一个 Google 账户；请先取消关联，再关联其他账户。'),
  AUTH_GOOGLE_NOT_LINKED: spec(409, 'No Google account is linked.', '尚未关联 Google 账户。'),
  AUTH_DISPLAY_NAME_POLICY: spec(422, (p: { rule: LocalizedText }) => `This display name breaks the content policy: ${p.rule.en}.`, (p) => `该显示名称违反内容政策：${p.rule.zh}。`),
  /** An admin suspended the account: sign-in, creating, publishing and buying are refused. */
  ACCOUNT_SUSPENDED: spec(403, 'This account is suspended. Write to support if you think this is a mistake.', '该账户已被暂停。如认为有误，请联系客服。'),
  ACCOUNT_NOT_FOUND: spec(404, 'There is no such account.', '不存在该账户。'),
  ACCOUNT_SUSPENSION_UNCHANGED: spec(
    409,
    (p: { suspended: boolean }) => (p.suspended ? 'This account is already suspended.' : 'This account is not suspended.'),
    (p) => (p.suspended ? '该账户已处于暂停状态。' : '该账户未被暂停。'),
  ),
  AUTH_GOOGLE_DISABLED: spec(404, 'Google sign-in is not available here.', '此处未开通 Google 登录。'),
  AUTH_TOO_MANY_ATTEMPTS: spec(429, 'Too many failed attempts; try again later, or reset your password.', '失败次数过多，请稍后再试，或重置密码。'),
  AUTH_SIGNUP_LIMIT: spec(429, 'Too many sign-ups from this network today; try again tomorrow.', '今天来自该网络的注册过多，请明天再试。'),

  // ── Credits ledger ──────────────────────────────────────────────────────────────────────────
  LEDGER_INSUFFICIENT_CREDITS: spec(
    402,
    (p: { cost: number; shortfall: number } | undefined) => (p ? `This generation costs ${p.cost} credits; ${p.shortfall} more are needed.` : 'There are not enough credits for this.'),
    (p) => (p ? `本次生成需要 ${p.cost} 积分，还差 ${p.shortfall} 积分。` : '积分不足。'),
  ),
  LEDGER_ACCOUNT_NOT_FOUND: spec(404, 'This account does not exist.', '该账户不存在。'),
  LEDGER_IDEMPOTENCY_CONFLICT: spec(409, 'This idempotency key was already used for a different request.', '该幂等键已用于另一个请求。'),
  LEDGER_POSTING_OUT_OF_ORDER: spec(409, 'This posting waits for an earlier one that has not arrived yet.', '此记账需等待尚未到达的前一笔记账。'),
  LEDGER_HOLD_CLOSED: spec(409, 'The credits held for this generation were already released or used.', '为本次生成冻结的积分已释放或已使用。'),
  LEDGER_GOODWILL_CAP: spec(
    422,
    (p: { cap: 'grant' | 'day'; limit: number }) => (p.cap === 'grant' ? `One goodwill grant is at most ${p.limit} credits.` : `You may grant at most ${p.limit} goodwill credits a day.`),
    (p) => (p.cap === 'grant' ? `单次补偿最多 ${p.limit} 积分。` : `你每天最多可发放 ${p.limit} 补偿积分。`),
  ),
  LEDGER_CAPTURE_EXCEEDS_HOLD: spec(422, 'More credits were asked for than the hold keeps.', '要扣除的积分超过了冻结的数额。'),
  LEDGER_INVARIANT_BROKEN: spec(500, INTERNAL_EN, INTERNAL_ZH),
  LEDGER_CONTENDED: spec(503, 'The balance is busy; please try again.', '余额正在更新，请重试。'),

  // ── Generation: requests ────────────────────────────────────────────────────────────────────
  UPLOAD_EMPTY: spec(400, 'The upload is empty.', '上传的文件为空。'),
  IMAGE_NOT_FOUND: spec(404, 'The image was not found.', '未找到该图片。'),
  UPLOAD_NOT_FOUND: spec(404, 'The upload was not found.', '未找到该上传文件。'),
  GENERATION_NOT_FOUND: spec(404, 'The generation was not found.', '未找到该生成任务。'),
  GENERATION_NOT_CANCELABLE: spec(
    409,
    (p: { status: string }) => `This generation ${FINISHED_EN[p.status] ?? 'has ended'}; it can no longer be canceled.`,
    (p) => `该生成任务${FINISHED_ZH[p.status] ?? '已结束'}，无法取消。`,
  ),
  UPLOAD_UNSUPPORTED_TYPE: spec(415, 'Only PNG, JPEG and WebP images are accepted.', '仅支持 PNG、JPEG 和 WebP 图片。'),
  UPLOAD_UNREADABLE: spec(422, 'The image could not be read; it may be damaged or truncated.', '无法读取该图片，文件可能已损坏或不完整。'),
  UPLOAD_TOO_MANY_PIXELS: spec(422, (p: { maxPixels: number }) => `Images are limited to ${p.maxPixels} pixels.`, (p) => `图片像素数不得超过 ${p.maxPixels}。`),
  GENERATION_PROMPT_EMPTY: spec(422, 'The prompt is empty.', '提示词为空。'),
  GENERATION_PROMPT_TOO_LONG: spec(422, (p: { maxChars: number }) => `The prompt is longer than ${p.maxChars} characters.`, (p) => `提示词超过了 ${p.maxChars} 个字符。`),
  /** A request the content policy (or the moderation model) refuses; `rule` names the rule, `field` what broke it. */
  GENERATION_CONTENT_POLICY: spec(
    422,
    (p: { rule: LocalizedText; field?: PolicyField }) => `${POLICY_FIELD_EN[p.field ?? 'prompt']} breaks the content policy: ${p.rule.en}.`,
    (p) => `${POLICY_FIELD_ZH[p.field ?? 'prompt']}违反内容政策：${p.rule.zh}。`,
  ),
  /** Publishing re-checks the image's prompts (rules change) and, when moderation is on, the image. */
  IMAGE_CONTENT_POLICY: spec(
    422,
    (p: { rule: LocalizedText; field?: PolicyField }) => `This image cannot be published: ${POLICY_FIELD_EN[p.field ?? 'prompt'].toLowerCase()} breaks the content policy: ${p.rule.en}.`,
    (p) => `无法发布这张图片：${POLICY_FIELD_ZH[p.field ?? 'prompt']}违反内容政策：${p.rule.zh}。`,
  ),
  /** The moderation model could not be asked and the configuration says not to go on without it. */
  MODERATION_UNAVAILABLE: spec(503, 'Content checks are unavailable right now; please try again shortly.', '内容审核暂时不可用，请稍后再试。'),
  GENERATION_SIZE_MISMATCH: spec(
    422,
    (p: { size: string; aspectRatio: string }) => `Size ${p.size} does not have aspect ratio ${p.aspectRatio}.`,
    (p) => `尺寸 ${p.size} 与宽高比 ${p.aspectRatio} 不符。`,
  ),
  GENERATION_REFERENCES_UNSUPPORTED: spec(422, (p: { model: string }) => `Model ${p.model} does not take reference images.`, (p) => `模型 ${p.model} 不支持参考图片。`),
  /** A request option the configured image model cannot do; `field` is the request's field name, `allowed` what it takes (none: leave it out). */
  GENERATION_UNSUPPORTED_OPTION: spec(
    422,
    (p: { field: string; model: string; allowed: string[] }) =>
      p.allowed.length
        ? `The ${p.model} model cannot take this ${OPTION_EN[p.field] ?? p.field}; it takes: ${p.allowed.join(', ')}.`
        : `The ${p.model} model does not take a ${OPTION_EN[p.field] ?? p.field}; leave it out.`,
    (p) => (p.allowed.length ? `模型 ${p.model} 不支持该${OPTION_ZH[p.field] ?? p.field}，可选：${p.allowed.join('、')}。` : `模型 ${p.model} 不支持${OPTION_ZH[p.field] ?? p.field}，请不要填写。`),
  ),
  GENERATION_REFERENCE_NOT_FOUND: spec(422, 'A reference upload does not exist or has expired.', '某张参考图片不存在或已过期。'),
  GENERATION_IDEMPOTENCY_KEY_REUSED: spec(422, 'This Idempotency-Key was used for a different request.', '该 Idempotency-Key 已用于另一个请求。'),
  IMAGE_MISSING: spec(500, INTERNAL_EN, INTERNAL_ZH),
  IMAGE_TAKEN_DOWN: spec(403, 'This image was taken down under the content policy; it cannot be published again.', '该图片因违反内容政策已被下架，无法再次发布。'),
  IMAGE_ALREADY_REPORTED: spec(409, 'You have already reported this image; thank you.', '你已举报过这张图片，谢谢。'),
  IMAGE_REPORT_RATE_LIMITED: spec(429, 'Too many reports from this network; please try again later.', '来自该网络的举报过多，请稍后再试。'),
  MODERATION_NOT_APPLICABLE: spec(
    409,
    (p: { action: 'dismiss' | 'takedown' | 'restore' }) =>
      p.action === 'restore' ? 'Only a taken-down image can be restored.' : p.action === 'takedown' ? 'This image is already taken down.' : 'This image has no open reports to dismiss.',
    (p) => (p.action === 'restore' ? '只有已下架的图片才能恢复。' : p.action === 'takedown' ? '该图片已被下架。' : '该图片没有待处理的举报。'),
  ),
  STORAGE_OBJECTS_RECLAIMED: spec(503, UNAVAILABLE_EN, UNAVAILABLE_ZH),

  // ── Generation: why a generation ended without images (its `errorCode`, a refund's `reason`) ──
  // Written so that they also read after "Refund — " in the credit history.
  GENERATION_CANCELED: spec(409, 'The generation was canceled.', '生成已取消。'),
  GENERATION_RENDER_ERROR: spec(502, 'The image could not be rendered.', '图像生成失败。'),
  GENERATION_REFERENCE_MISSING: spec(502, 'A reference image was no longer available.', '参考图片已不可用。'),
  GENERATION_PROVIDER_TIMEOUT: spec(502, 'The image service did not answer in time.', '图像服务未能及时响应。'),
  GENERATION_PROVIDER_UNREACHABLE: spec(502, 'The image service could not be reached.', '无法连接图像服务。'),
  GENERATION_PROVIDER_BAD_RESPONSE: spec(502, 'The image service sent back something unusable.', '图像服务返回了无法使用的结果。'),
  GENERATION_PROVIDER_QUOTA: spec(502, 'The image service has no capacity left for now.', '图像服务暂时没有可用额度。'),
  GENERATION_PROVIDER_RATE_LIMITED: spec(502, 'The image service was too busy.', '图像服务过于繁忙。'),
  GENERATION_PROVIDER_UNAVAILABLE: spec(502, 'The image service was unavailable.', '图像服务暂不可用。'),
  GENERATION_PROVIDER_AUTH: spec(502, 'The image service is not set up correctly.', '图像服务配置有误。'),
  GENERATION_PROVIDER_POLICY: spec(502, 'The image service refused the prompt under its content policy.', '图像服务依据其内容政策拒绝了该提示词。'),
  GENERATION_PROVIDER_REJECTED: spec(502, 'The image service refused the request.', '图像服务拒绝了该请求。'),
  GENERATION_HOLD_EXPIRED: spec(504, 'The image was not ready in time.', '图像未能按时生成。'),

  // ── Finance (periods shared by billing's and the ledger's finance reports) ──────────────────
  FINANCE_PERIOD_INVALID: spec(
    400,
    (p: { reason: 'format' | 'order' | 'length'; maxDays?: number }) =>
      p.reason === 'format'
        ? 'Give the period as month=YYYY-MM, or from and to as dates (YYYY-MM-DD) or date-times.'
        : p.reason === 'order'
          ? '"to" must be after "from".'
          : `The period may span at most ${p.maxDays ?? 366} days.`,
    (p) => (p.reason === 'format' ? '请以 month=YYYY-MM，或以日期（YYYY-MM-DD）或日期时间形式的 from 和 to 指定时间段。' : p.reason === 'order' ? '“to” 必须晚于 “from”。' : `时间段最长为 ${p.maxDays ?? 366} 天。`),
  ),
  FINANCE_TIMEZONE_INVALID: spec(400, (p: { tz: string }) => `"${p.tz}" is not an IANA time zone (such as Europe/Paris or Asia/Shanghai).`, (p) => `“${p.tz}”不是 IANA 时区名称（例如 Europe/Paris 或 Asia/Shanghai）。`),
  FINANCE_PERIOD_CLOSED: spec(409, (p: { month: string }) => `The period ${p.month} is closed; corrections go to the next open period.`, (p) => `${p.month} 期间已结账；更正记入下一个未结账期间。`),
  FINANCE_PERIOD_NOT_OVER: spec(409, (p: { month: string }) => `The period ${p.month} has not ended yet; it can be closed once it is over.`, (p) => `${p.month} 期间尚未结束，结束后才能结账。`),
  FINANCE_STRIPE_UNAVAILABLE: spec(502, 'Stripe did not answer the import; please try again.', 'Stripe 未响应导入请求，请重试。'),

  // ── Billing ─────────────────────────────────────────────────────────────────────────────────
  BILLING_RECONCILIATION_PERIOD_INVALID: spec(
    400,
    (p: { rule: 'order' } | { rule: 'length'; maxDays: number }) => (p.rule === 'order' ? '"to" must be after "from".' : `The period may span at most ${p.maxDays} days.`),
    (p) => (p.rule === 'order' ? '“to” 必须晚于 “from”。' : `时间段最长为 ${p.maxDays} 天。`),
  ),
  BILLING_WEBHOOK_SIGNATURE_MISSING: spec(400, 'The Stripe-Signature header is missing.', '缺少 Stripe-Signature 请求头。'),
  BILLING_WEBHOOK_SIGNATURE_INVALID: spec(
    400,
    (p: { stale: boolean } | undefined) => (p?.stale ? 'The Stripe signature is too old (outside the tolerance window).' : 'The Stripe signature does not match the event.'),
    (p) => (p?.stale ? 'Stripe 签名已过期（超出容差时间窗口）。' : 'Stripe 签名与事件内容不匹配。'),
  ),
  BILLING_WEBHOOK_MALFORMED: spec(400, 'The event has no id or type.', '该事件缺少 id 或 type。'),
  BILLING_PACK_NOT_FOUND: spec(404, (p: { packId: string }) => `There is no credit pack "${p.packId}".`, (p) => `不存在积分套餐“${p.packId}”。`),
  BILLING_CONFLICT: spec(409, 'The order changed meanwhile; please try again.', '订单刚刚发生了变化，请重试。'),
  BILLING_CHECKOUT_IN_PROGRESS: spec(409, 'This checkout is still being opened; try again in a moment.', '结账页面仍在创建中，请稍后再试。'),
  BILLING_IDEMPOTENCY_KEY_REUSED: spec(422, 'This Idempotency-Key was used for a different checkout.', '该 Idempotency-Key 已用于另一次结账。'),
  BILLING_CHECKOUT_OVER: spec(422, 'The checkout started with this Idempotency-Key is over; start a new one with a new key.', '用该 Idempotency-Key 发起的结账已结束，请换一个新的键重新发起。'),
  BILLING_EVENT_NOT_FOUND: spec(500, INTERNAL_EN, INTERNAL_ZH),
  BILLING_STRIPE_UNAVAILABLE: spec(502, 'The payment provider did not answer; please try again.', '支付服务未响应，请重试。'),

  // ── Notification ────────────────────────────────────────────────────────────────────────────
  NOTIFICATION_WEBHOOK_SIGNATURE_INVALID: spec(400, 'The webhook signature is invalid.', 'Webhook 签名无效。'),
  NOTIFICATION_WEBHOOK_MALFORMED: spec(400, 'The webhook body is not a valid event.', 'Webhook 请求体不是有效的事件。'),
  NOTIFICATION_SEND_IN_PROGRESS: spec(409, 'This email is being sent by another worker.', '该邮件正由另一个进程发送。'),
  NOTIFICATION_INVALID_DATA: spec(422, 'The email could not be built from its data.', '无法根据所给数据生成该邮件。'),
  NOTIFICATION_PROVIDER_REJECTED: spec(502, 'The email provider refused the message.', '邮件服务商拒绝了该邮件。'),
  NOTIFICATION_CONTACT_UNKNOWN: spec(503, 'There is no email address for this person yet.', '暂时还没有此人的邮箱地址。'),
  NOTIFICATION_PROVIDER_UNAVAILABLE: spec(503, 'The email provider is unavailable; please try again.', '邮件服务商暂不可用，请重试。'),
  NOTIFICATION_WEBHOOK_NOT_CONFIGURED: spec(503, UNAVAILABLE_EN, UNAVAILABLE_ZH),
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
/** The one HTTP status of a code. */
export type ErrorStatus<C extends ErrorCode> = (typeof ERROR_CODES)[C]['status'];
/** The parameters a code's messages take (`undefined` for plain sentences). */
export type ErrorParams<C extends ErrorCode> = (typeof ERROR_CODES)[C] extends ErrorSpec<number, infer P> ? P : never;
/** The codes answered with status S (what `notFound`, `badRequest`, … accept). */
export type CodeWithStatus<S extends number> = { [K in ErrorCode]: ErrorStatus<K> extends S ? K : never }[ErrorCode];
/** Codes whose messages need no parameters. */
export type PlainErrorCode = { [K in ErrorCode]: undefined extends ErrorParams<K> ? K : never }[ErrorCode];

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** A code's message in `locale`; the parameters go to the message functions that take them. */
export function errorMessage<C extends ErrorCode>(code: C, locale: Locale, params?: ErrorParams<C>): string {
  const text = ERROR_CODES[code][locale] as Text<unknown>;
  if (typeof text === 'string') return text;
  try {
    return text(params);
  } catch {
    // A code raised without the parameters its message needs: the status phrase still says something true.
    return problemTitle(ERROR_CODES[code].status, locale);
  }
}

/** HTTP status phrases, the problem `title` (RFC 9457 `about:blank`: the phrase, localized). */
export const STATUS_TITLES: Readonly<Record<number, LocalizedText>> = {
  400: { en: 'Bad Request', zh: '请求错误' },
  401: { en: 'Unauthorized', zh: '未登录' },
  402: { en: 'Payment Required', zh: '需要付款' },
  403: { en: 'Forbidden', zh: '禁止访问' },
  404: { en: 'Not Found', zh: '未找到' },
  405: { en: 'Method Not Allowed', zh: '不允许的请求方法' },
  408: { en: 'Request Timeout', zh: '请求超时' },
  409: { en: 'Conflict', zh: '冲突' },
  411: { en: 'Length Required', zh: '需要内容长度' },
  413: { en: 'Content Too Large', zh: '内容过大' },
  414: { en: 'URI Too Long', zh: '地址过长' },
  415: { en: 'Unsupported Media Type', zh: '不支持的内容类型' },
  422: { en: 'Unprocessable Content', zh: '无法处理的内容' },
  429: { en: 'Too Many Requests', zh: '请求过多' },
  431: { en: 'Request Header Fields Too Large', zh: '请求头过大' },
  500: { en: 'Internal Server Error', zh: '服务器内部错误' },
  502: { en: 'Bad Gateway', zh: '网关错误' },
  503: { en: 'Service Unavailable', zh: '服务不可用' },
  504: { en: 'Gateway Timeout', zh: '网关超时' },
};

export function problemTitle(status: number, locale: Locale): string {
  return STATUS_TITLES[status]?.[locale] ?? (locale === 'zh' ? '错误' : 'Error');
}

/**
 * Why a generation ended without images: its `errorCode` (besides LEDGER_INSUFFICIENT_CREDITS,
 * when nothing was held) and the `reason` of the refund that gives its credits back.
 */
export type GenerationEndCode = 'GENERATION_CANCELED' | Extract<CodeWithStatus<500 | 502 | 503 | 504>, `GENERATION_${string}`>;
export const GENERATION_END_CODES: readonly GenerationEndCode[] = ERROR_CODE_LIST.filter(
  (c): c is GenerationEndCode => c === 'GENERATION_CANCELED' || (c.startsWith('GENERATION_') && ERROR_CODES[c].status >= 500),
);

export function isGenerationEndCode(value: unknown): value is GenerationEndCode {
  return isErrorCode(value) && (GENERATION_END_CODES as readonly string[]).includes(value);
}

/** The closed set as a schema: a string enum in the OpenAPI document (the problem `code`, a refund's `reason`). */
export const ErrorCodeSchema = Type.Unsafe<ErrorCode>({ type: 'string', enum: ERROR_CODE_LIST, description: 'A registered error code (packages/contracts/src/error-codes.ts).' });
