import { sql, type Kysely } from '@imlab/db';
import type { DailyMetric, ServiceDailyCount } from '@imlab/http';
import type { DB } from '../db.js';

export const GENERATION_DAILY_METRICS: readonly DailyMetric[] = [
  { metric: 'generations', unit: 'generations', labels: ['tier', 'outcome'], help: 'Generations created, by tier and outcome' },
  { metric: 'refusals', unit: 'prompts', labels: ['rule'], help: 'Prompts refused under the content policy, by rule' },
  { metric: 'reports', unit: 'reports', labels: ['reason'], help: 'Gallery images reported, by reason' },
];

const day = (col: string) => sql<string>`to_char(${sql.ref(col)} at time zone 'UTC', 'YYYY-MM-DD')`;
const start = (d: string) => sql<Date>`(${d}::date)::timestamp at time zone 'UTC'`;
const end = (d: string) => sql<Date>`(${d}::date + 1)::timestamp at time zone 'UTC'`;

/** Counted once per refusal (the refusal itself stores nothing). */
export async function countRefusal(db: Kysely<DB>, rule: string): Promise<void> {
  await sql`
    insert into daily_counts (day, metric, label, count) values ((now() at time zone 'UTC')::date, 'refusals', ${rule.slice(0, 100)}, 1)
    on conflict (day, metric, label) do update set count = daily_counts.count + 1`.execute(db);
}

/** Daily counts from this service's own tables: generations by tier and outcome, refusals by rule, reports by reason. */
export async function generationDailyCounts(db: Kysely<DB>, from: string, to: string): Promise<ServiceDailyCount[]> {
  const gens = await db
    .selectFrom('generations')
    .select([day('created_at').as('day'), 'model', 'status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('created_at', '>=', start(from))
    .where('created_at', '<', end(to))
    .groupBy([sql`1`, 'model', 'status'])
    .execute();
  const reports = await db
    .selectFrom('image_reports')
    .select([day('created_at').as('day'), 'reason', (eb) => eb.fn.countAll<string>().as('n')])
    .where('created_at', '>=', start(from))
    .where('created_at', '<', end(to))
    .groupBy([sql`1`, 'reason'])
    .execute();
  const refusals = await sql<{ day: string; label: string; count: number }>`
    select to_char(day, 'YYYY-MM-DD') as day, label, count from daily_counts
     where metric = 'refusals' and day between ${from}::date and ${to}::date`.execute(db);
  return [
    ...gens.map((r) => ({ day: r.day, metric: 'generations', labels: { tier: r.model, outcome: r.status }, value: Number(r.n) })),
    ...refusals.rows.map((r) => ({ day: r.day, metric: 'refusals', labels: { rule: r.label }, value: Number(r.count) })),
    ...reports.map((r) => ({ day: r.day, metric: 'reports', labels: { reason: r.reason }, value: Number(r.n) })),
  ];
}
