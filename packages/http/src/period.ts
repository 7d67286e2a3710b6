/// <reference lib="esnext.temporal" />
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from './app-error.js';

/**
 * A finance period: the half-open instant range [from, to) a report covers, read in the finance
 * role's time zone. Months and dates are calendar ones *in that zone* (November in Asia/Shanghai
 * starts at 16:00 UTC on 31 October), which is what a month-end close means; full date-times
 * with an offset are taken as they are. Temporal (built into Node 26) does the zone arithmetic, so
 * daylight-saving days are 23 or 25 hours long, as they are.
 */
export const PeriodQuery = Type.Object({
  month: Type.Optional(Type.String({ maxLength: 7, description: 'A calendar month in `tz`, `YYYY-MM`; or give `from` and `to`.' })),
  from: Type.Optional(Type.String({ maxLength: 40, description: 'Start (inclusive): a date `YYYY-MM-DD` (midnight in `tz`) or a date-time with an offset.' })),
  to: Type.Optional(Type.String({ maxLength: 40, description: 'End (exclusive): a date `YYYY-MM-DD` (midnight in `tz`) or a date-time with an offset.' })),
  tz: Type.Optional(Type.String({ maxLength: 64, description: 'IANA time zone the dates and month are read in (`Europe/Paris`, `Asia/Shanghai`); `UTC` by default.' })),
});
export type PeriodQuery = Static<typeof PeriodQuery>;

export interface Period {
  from: Date;
  to: Date;
  tz: string;
  /** `2026-11` for a month, else `from..to` as given. */
  label: string;
}

/** The zone a period is read in when none is given. */
export const DEFAULT_TIME_ZONE = 'UTC';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
const ZONE_NAME = /^(UTC|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){1,2})$/;

/** An IANA zone name the runtime knows (`Europe/Paris`, `UTC`); offsets and abbreviations are refused. */
export function validTimeZone(tz: string): string {
  if (!ZONE_NAME.test(tz)) throw new AppError('FINANCE_TIMEZONE_INVALID', { params: { tz: tz.slice(0, 64) } });
  try {
    return Temporal.ZonedDateTime.from({ year: 2000, month: 1, day: 1, timeZone: tz }).timeZoneId;
  } catch {
    throw new AppError('FINANCE_TIMEZONE_INVALID', { params: { tz: tz.slice(0, 64) } });
  }
}

const invalid = (reason: 'format' | 'order' | 'length', maxDays?: number) => new AppError('FINANCE_PERIOD_INVALID', { params: maxDays ? { reason, maxDays } : { reason } });

function instant(value: string, tz: string): Date {
  try {
    if (DATE.test(value)) return new Date(Temporal.PlainDate.from(value, { overflow: 'reject' }).toZonedDateTime({ timeZone: tz }).epochMilliseconds);
    if (DATE_TIME.test(value)) return new Date(Temporal.Instant.from(value).epochMilliseconds);
  } catch {
    // an impossible date (2026-02-30) falls through to the same answer as a malformed one
  }
  throw invalid('format');
}

/** The month `YYYY-MM` in `tz` as instants. */
export function monthPeriod(month: string, tz: string): Period {
  const m = MONTH.exec(month);
  if (!m) throw invalid('format');
  const start = Temporal.PlainDate.from({ year: Number(m[1]), month: Number(m[2]), day: 1 });
  const zone = validTimeZone(tz);
  return {
    from: new Date(start.toZonedDateTime({ timeZone: zone }).epochMilliseconds),
    to: new Date(start.add({ months: 1 }).toZonedDateTime({ timeZone: zone }).epochMilliseconds),
    tz: zone,
    label: month,
  };
}

/** The month (`YYYY-MM`) an instant falls in, in `tz`. */
export function monthOf(at: Date, tz: string): string {
  const d = Temporal.Instant.fromEpochMilliseconds(at.getTime()).toZonedDateTimeISO(tz);
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}`;
}

/** The month after `YYYY-MM`. */
export function nextMonth(month: string): string {
  const d = Temporal.PlainYearMonth.from(month).add({ months: 1 });
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}`;
}

/**
 * Reads `month` or `from`/`to` (with `tz`) into instants; anything else is FINANCE_PERIOD_INVALID
 * or FINANCE_TIMEZONE_INVALID (400, problem+json), before any query runs.
 */
export function resolvePeriod(q: PeriodQuery, opts: { maxDays?: number } = {}): Period {
  const tz = validTimeZone(q.tz ?? DEFAULT_TIME_ZONE);
  const maxDays = opts.maxDays ?? 366;
  if (q.month !== undefined) {
    if (q.from !== undefined || q.to !== undefined) throw invalid('format');
    return monthPeriod(q.month, tz);
  }
  if (q.from === undefined || q.to === undefined) throw invalid('format');
  const from = instant(q.from, tz);
  const to = instant(q.to, tz);
  if (!(to > from)) throw invalid('order');
  if (to.getTime() - from.getTime() > maxDays * 86_400_000) throw invalid('length', maxDays);
  return { from, to, tz, label: `${q.from}..${q.to}` };
}
