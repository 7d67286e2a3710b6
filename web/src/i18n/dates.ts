/**
 * Dates and times in the page's language, one style on every page: English day-month-year with a
 * 24-hour clock ("6 Dec 2026, 20:54"), Chinese in its own order ("2026年12月6日 20:54"). Numbers
 * and money keep their own locales (en-US: "$4.99", not "US$4.99").
 */
const dateLocale = (language: string | undefined) => (language === 'zh' ? 'zh-CN' : 'en-GB');

/** What goes between two sentences: a space in English, nothing after Chinese 。 */
export const sentenceGap = (language: string | undefined) => (language === 'zh' ? '' : ' ');

/** A date and time: "6 Dec 2026, 20:54" (in `timeZone` when given, else the browser's). */
export const dateTime = (language: string | undefined, iso: string, timeZone?: string) =>
  new Intl.DateTimeFormat(dateLocale(language), { dateStyle: 'medium', timeStyle: 'short', ...(timeZone ? { timeZone } : {}) }).format(new Date(iso));

/** A day: "6 Dec 2026". */
export const day = (language: string | undefined, iso: string) => new Intl.DateTimeFormat(dateLocale(language), { dateStyle: 'medium' }).format(new Date(iso));

/** A day written out: "6 December 2026" (in `timeZone` when given). */
export const longDay = (language: string | undefined, iso: string | Date, timeZone?: string) =>
  new Intl.DateTimeFormat(dateLocale(language), { dateStyle: 'long', ...(timeZone ? { timeZone } : {}) }).format(typeof iso === 'string' ? new Date(iso) : iso);

/** A calendar month named ("December 2026", "2026年12月") from its `YYYY-MM`. */
export const monthName = (language: string | undefined, month: string) =>
  new Intl.DateTimeFormat(dateLocale(language), { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(new Date(`${month}-01T00:00:00Z`));

/** The twelve months' names, January first, as `monthName` writes them ("January" …; "1月" …, not "一月"). */
export const monthsOfYear = (language: string | undefined) => {
  const format = new Intl.DateTimeFormat(dateLocale(language), { month: language === 'zh' ? 'numeric' : 'long', timeZone: 'UTC' });
  return Array.from({ length: 12 }, (_, i) => format.format(new Date(Date.UTC(2000, i, 1))));
};
