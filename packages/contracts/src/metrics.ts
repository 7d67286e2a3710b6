import { Type, type Static } from '@sinclair/typebox';

/**
 * Aggregated, anonymised product metrics (issue #20): daily counts each service computes from its
 * own data. No row is about a person; a count below METRICS_SUPPRESS_BELOW (but above zero) is
 * suppressed (`value: null`) before it leaves the service, so a small group cannot be singled out.
 */
export const METRICS_SUPPRESS_BELOW = 5;

export const DailyCount = Type.Object(
  {
    day: Type.String({ format: 'date', description: 'UTC calendar day.' }),
    service: Type.String(),
    metric: Type.String({ description: 'signups, verified, generations, refusals, reports, credits' }),
    labels: Type.Record(Type.String(), Type.String(), { description: 'tier and outcome, rule, reason, flow…' }),
    value: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: `null: fewer than ${METRICS_SUPPRESS_BELOW}, suppressed.` }),
  },
  { $id: 'DailyCount', additionalProperties: false },
);
export type DailyCount = Static<typeof DailyCount>;

/** Counts below the threshold become null (zero stays zero: nothing to single out). */
export function suppressSmall<T extends { value: number | null }>(rows: T[], below = METRICS_SUPPRESS_BELOW): T[] {
  return rows.map((r) => (r.value !== null && r.value > 0 && r.value < below ? { ...r, value: null } : r));
}

/** The day as `YYYY-MM-DD` (UTC). */
export const utcDay = (d: Date | string): string => (typeof d === 'string' ? d.slice(0, 10) : d.toISOString().slice(0, 10));

/** Fraud signals (issue #20): flags for an admin to look at, never a block. */
export const FRAUD_SIGNALS = ['shared-address', 'failed-payments', 'dispute-after-heavy-buying'] as const;
export const FraudSignal = Type.Object(
  {
    userId: Type.String({ format: 'uuid' }),
    signal: Type.Union(FRAUD_SIGNALS.map((s) => Type.Literal(s))),
    count: Type.Integer({ minimum: 1, description: 'Accounts from the same address (/64), failed payments, or disputes.' }),
    lastAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'FraudSignal', additionalProperties: false },
);
export type FraudSignal = Static<typeof FraudSignal>;
