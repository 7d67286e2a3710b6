import type { Locale } from '../db.js';
import type { EmailContent } from './content.js';
import { escapeHtml as e } from './escape.js';

const CHROME: Record<Locale, { lang: string; brand: string; fallback: string; footer: string }> = {
  en: {
    lang: 'en',
    brand: 'imagemakerlab',
    fallback: 'If the button does not work, copy this link into your browser:',
    footer: 'You are receiving this email because you have an imagemakerlab account. This is a transactional message; replies are not read.',
  },
  zh: {
    lang: 'zh-CN',
    brand: 'imagemakerlab',
    fallback: '如果按钮无法使用，请把下面的链接复制到浏览器中打开：',
    footer: '你收到这封邮件，是因为你有一个 imagemakerlab 账户。这是一封事务性邮件，回复不会被阅读。',
  },
};

/** The one HTML layout every email shares. Every string is escaped here. */
export function layoutHtml(locale: Locale, c: EmailContent): string {
  const chrome = CHROME[locale];
  const paragraphs = c.paragraphs.map((p) => `<p style="margin:0 0 16px;">${e(p)}</p>`).join('\n');
  const facts = c.facts?.length
    ? `<table role="presentation" style="width:100%;border-collapse:collapse;margin:0 0 16px;">${c.facts
        .map(
          ([k, v]) =>
            `<tr><td style="padding:6px 0;color:#6b6b6b;">${e(k)}</td><td style="padding:6px 0;text-align:right;font-weight:600;">${e(v)}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const action = c.action
    ? `<p style="margin:24px 0;"><a href="${e(c.action.url)}" style="display:inline-block;padding:12px 20px;background:#1f1f1f;color:#ffffff;text-decoration:none;border-radius:6px;">${e(c.action.label)}</a></p>
<p style="margin:0 0 16px;font-size:13px;color:#6b6b6b;">${e(chrome.fallback)}<br><a href="${e(c.action.url)}" style="color:#6b6b6b;word-break:break-all;">${e(c.action.url)}</a></p>`
    : '';
  const footnote = c.footnote ? `<p style="margin:16px 0 0;font-size:13px;color:#6b6b6b;">${e(c.footnote)}</p>` : '';
  return `<!doctype html>
<html lang="${chrome.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(c.subject)}</title>
</head>
<body style="margin:0;padding:0;background:#f5f4f1;">
<div style="display:none;max-height:0;overflow:hidden;">${e(c.preheader)}</div>
<table role="presentation" style="width:100%;border-collapse:collapse;"><tr><td style="padding:32px 16px;">
<table role="presentation" style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;border-collapse:collapse;font-family:-apple-system,'Segoe UI',Helvetica,Arial,'PingFang SC','Microsoft YaHei',sans-serif;font-size:15px;line-height:1.6;color:#1f1f1f;">
<tr><td style="padding:28px 32px 0;font-weight:600;letter-spacing:0.02em;">${e(chrome.brand)}</td></tr>
<tr><td style="padding:20px 32px 28px;">
<p style="margin:0 0 16px;">${e(c.greeting)}</p>
${paragraphs}
${facts}
${action}
${footnote}
</td></tr>
</table>
<p style="max-width:560px;margin:16px auto 0;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:1.5;color:#8a8a8a;">${e(chrome.footer)}</p>
</td></tr></table>
</body>
</html>
`;
}

/** The same content as plain text. */
export function layoutText(locale: Locale, c: EmailContent): string {
  const chrome = CHROME[locale];
  const colon = locale === 'zh' ? '：' : ': ';
  const parts: string[] = [c.greeting, ...c.paragraphs];
  if (c.facts?.length) parts.push(c.facts.map(([k, v]) => `${k}${colon}${v}`).join('\n'));
  if (c.action) parts.push(`${c.action.label}${colon.trim()}\n${c.action.url}`);
  if (c.footnote) parts.push(c.footnote);
  parts.push(`--\n${chrome.brand}\n${chrome.footer}`);
  return `${parts.join('\n\n')}\n`;
}
