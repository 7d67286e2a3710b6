import { Type } from '@sinclair/typebox';
import { sql, type Kysely } from '@imlab/db';
import { DailyCount, METRICS_SUPPRESS_BELOW, ref, suppressSmall, type DailyCount as DailyCountT } from '@imlab/contracts';
import { AppError, badRequest, errors, operation, registerDailyMetrics, type App, type DailyMetric, type ServiceDailyCount } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { DB } from '../db.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import { fetchInternal } from '../privacy/export-fetch.js';
import { ADMIN, requireAdmin } from './suspension.routes.js';

export const AUTH_DAILY_METRICS: readonly DailyMetric[] = [
  { metric: 'signups', unit: 'accounts', labels: [], help: 'Accounts created' },
  { metric: 'verified', unit: 'accounts', labels: [], help: 'Email addresses verified' },
];

/** Sign-ups and verifications per UTC day, from the accounts that exist (a purged one no longer counts). */
export async function authDailyCounts(db: Kysely<DB>, from: string, to: string): Promise<ServiceDailyCount[]> {
  const { rows } = await sql<{ day: string; metric: string; n: string }>`
    select to_char(at at time zone 'UTC', 'YYYY-MM-DD') as day, metric, count(*)::text as n from (
      select created_at as at, 'signups' as metric from users
      union all
      select email_verified_at as at, 'verified' as metric from users where email_verified_at is not null
    ) e
     where at >= (${from}::date)::timestamp at time zone 'UTC' and at < (${to}::date + 1)::timestamp at time zone 'UTC'
     group by 1, 2`.execute(db);
  return rows.map((r) => ({ day: r.day, metric: r.metric, labels: {}, value: Number(r.n) }));
}

const DailyCounts = Type.Object(
  { from: Type.String({ format: 'date' }), to: Type.String({ format: 'date' }), suppressedBelow: Type.Integer(), items: Type.Array(ref(DailyCount)) },
  { $id: 'DailyCounts', description: 'Aggregated, anonymised daily counts of every service.' },
);
export const metricsSchemas = [DailyCount, DailyCounts];

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** auth's own gauges and internal route, and the admin endpoint gathering every service's counts. */
export function registerMetricsRoutes(app: App, deps: AuthDeps, sessions: SessionService): void {
  registerDailyMetrics(app, { service: 'auth', gaugeService: 'auth', metrics: AUTH_DAILY_METRICS, counts: (from, to) => authDailyCounts(deps.db, from, to) });
  app.get(
    '/v1/admin/metrics/daily',
    {
      preHandler: requireCaller(deps.keys, sessions),
      schema: {
        ...operation('listDailyMetrics', {
          tag: 'back-office',
          access: { roles: ADMIN },
          summary: 'Daily product metrics',
          description:
            'Daily counts from every service\'s own data, from `from` to `to` (UTC days, at most a year): sign-ups, verified addresses, generations by tier and outcome, prompts refused by rule, reports by reason, credits sold, given, spent and refunded. No row is about a person; counts from 1 to 4 are suppressed (`value: null`).',
        }),
        querystring: Type.Object({ from: Type.String({ format: 'date' }), to: Type.String({ format: 'date' }) }, { additionalProperties: false }),
        response: { 200: ref(DailyCounts, { description: 'The counts' }), ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }, { 503: ['SERVICE_UNAVAILABLE'] }) },
      },
    },
    async (request) => {
      requireAdmin(callerOf(request).roles);
      const { from, to } = request.query;
      if (!DAY.test(from) || !DAY.test(to) || to < from || Date.parse(to) - Date.parse(from) > 366 * 86_400_000) {
        throw badRequest('VALIDATION_FAILED', 'from and to are UTC days, from ≤ to, at most a year apart', { errors: [{ path: '/to', message: 'from ≤ to, at most a year apart' }] });
      }
      const path = `/internal/metrics/daily?from=${from}&to=${to}`;
      const parts = await Promise.all(
        (['credits-ledger', 'generation'] as const).map(async (service) => {
          const base = service === 'credits-ledger' ? deps.config.LEDGER_URL : deps.config.GENERATION_URL;
          const { bytes } = await fetchInternal(base, path, await deps.keys.serviceToken(service));
          return JSON.parse(Buffer.from(bytes).toString('utf8')) as DailyCountT[];
        }),
      ).catch((err: unknown) => {
        throw new AppError('SERVICE_UNAVAILABLE', { cause: err });
      });
      const own = suppressSmall((await authDailyCounts(deps.db, from, to)).map((r) => ({ ...r, service: 'auth' })));
      const items = [...own, ...parts.flat()].sort((a, b) => a.day.localeCompare(b.day) || a.service.localeCompare(b.service) || a.metric.localeCompare(b.metric));
      return { from, to, suppressedBelow: METRICS_SUPPRESS_BELOW, items };
    },
  );
}
