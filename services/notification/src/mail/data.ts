import type { Locale } from '../db.js';
import { cleanText } from './escape.js';
import { LinkError, resolveLink } from './links.js';

/** Template data that is missing or malformed: a permanent failure, retrying cannot fix it. */
export class TemplateDataError extends Error {}

type Value = string | number | boolean | null;

/** Typed, bounded access to an email's `data`, with links resolved against PUBLIC_BASE_URL. */
export class TemplateData {
  private readonly data: Record<string, Value>;
  readonly locale: Locale;
  private readonly publicBaseUrl: string;
  private readonly fallbackName: string | undefined;
  constructor(
    data: Record<string, Value>,
    locale: Locale,
    publicBaseUrl: string,
    fallbackName: string | undefined,
  ) {
    this.data = data;
    this.locale = locale;
    this.publicBaseUrl = publicBaseUrl;
    this.fallbackName = fallbackName;
  }

  /** The display name from data, else the contact's; cleaned of control characters, bounded. */
  get displayName(): string | undefined {
    const given = this.data.displayName;
    const name = typeof given === 'string' && given.trim() ? given : this.fallbackName;
    return name ? cleanText(name, 80) : undefined;
  }

  string(key: string, max = 200): string {
    const v = this.data[key];
    if (typeof v !== 'string' || !v.trim()) throw new TemplateDataError(`data.${key} must be a non-empty string`);
    return cleanText(v, max);
  }

  optionalString(key: string, max = 200): string | undefined {
    return this.data[key] === undefined || this.data[key] === null ? undefined : this.string(key, max);
  }

  int(key: string): number {
    const v = this.data[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TemplateDataError(`data.${key} must be a non-negative integer`);
    return v;
  }

  optionalInt(key: string): number | undefined {
    return this.data[key] === undefined || this.data[key] === null ? undefined : this.int(key);
  }

  date(key: string): Date {
    const v = this.data[key];
    const d = typeof v === 'string' ? new Date(v) : undefined;
    if (!d || Number.isNaN(d.getTime())) throw new TemplateDataError(`data.${key} must be an ISO date-time`);
    return d;
  }

  optionalDate(key: string): Date | undefined {
    return this.data[key] === undefined || this.data[key] === null ? undefined : this.date(key);
  }

  /** A link given in data: a path, or an absolute URL under PUBLIC_BASE_URL. */
  link(key: string): string {
    const v = this.data[key];
    if (typeof v !== 'string' || !v) throw new TemplateDataError(`data.${key} must be a link`);
    return this.path(v, key);
  }

  /** A link this service builds itself from a path. */
  path(path: string, key = 'link'): string {
    try {
      return resolveLink(this.publicBaseUrl, path);
    } catch (err) {
      if (err instanceof LinkError) throw new TemplateDataError(`data.${key}: ${err.message}`);
      throw err;
    }
  }
}

const INTL_LOCALE: Record<Locale, string> = { en: 'en-US', zh: 'zh-CN' };

export function formatInt(locale: Locale, n: number): string {
  return new Intl.NumberFormat(INTL_LOCALE[locale]).format(n);
}

/** `amount` in minor units of `currency` (ISO 4217), e.g. 999 USD → $9.99. */
export function formatMoney(locale: Locale, amount: number, currency: string): string {
  let fmt: Intl.NumberFormat;
  try {
    fmt = new Intl.NumberFormat(INTL_LOCALE[locale], { style: 'currency', currency: currency.toUpperCase() });
  } catch {
    throw new TemplateDataError('data.currency must be an ISO 4217 code');
  }
  const digits = fmt.resolvedOptions().maximumFractionDigits ?? 2;
  return fmt.format(amount / 10 ** digits);
}

/** Dates in UTC with the zone named, so the text is right wherever it is read. */
export function formatDate(locale: Locale, d: Date): string {
  return new Intl.DateTimeFormat(INTL_LOCALE[locale], {
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone: 'UTC',
    timeZoneName: 'short',
  }).format(d);
}
