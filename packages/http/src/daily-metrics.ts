import { Type } from '@sinclair/typebox';
import { Gauge } from 'prom-client';
import { suppressSmall, utcDay, type DailyCount } from '@imlab/contracts';
import type { App } from './app.js';
import { badRequest } from './app-error.js';
import { requireServiceToken } from './internal-auth.js';

/** One daily count a service computes from its own data (no row about a person). */
export type ServiceDailyCount = Omit<DailyCount, 'service'>;

export interface DailyMetric {
  /** `signups`, `generations`… (the `metric` of its rows). */
  metric: string;
  /** The gauge's unit word: `imlab_<service>_<metric>_today_<unit>`. */
  unit: string;
  labels: readonly string[];
  help: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_DAYS = 366;

/**
 * A service's aggregated, anonymised daily counts: `GET /internal/metrics/daily?from=&to=` for auth
 * (its service token only; auth's admin endpoint gathers every service's), and a Prometheus gauge
 * per metric holding today's counts (`imlab_<service>_<metric>_today_<unit>`). Small counts are
 * suppressed in both before they leave the process.
 */
export function registerDailyMetrics(app: App, opts: { service: string; gaugeService: string; metrics: readonly DailyMetric[]; counts: (from: string, to: string) => Promise<ServiceDailyCount[]> }): void {
  app.get(
    '/internal/metrics/daily',
    {
      preValidation: requireServiceToken('auth'),
      schema: { hide: true, querystring: Type.Object({ from: Type.String(), to: Type.String() }) } as object,
    },
    async (req) => {
      const { from, to } = req.query as { from: string; to: string };
      if (!DAY.test(from) || !DAY.test(to) || to < from || Date.parse(to) - Date.parse(from) > MAX_DAYS * 86_400_000) throw badRequest('VALIDATION_FAILED', 'from and to are UTC days, from ≤ to, at most a year apart');
      return suppressSmall((await opts.counts(from, to)).map((r) => ({ ...r, service: opts.service })));
    },
  );
  for (const m of opts.metrics) {
    new Gauge({
      name: `imlab_${opts.gaugeService}_${m.metric}_today_${m.unit}`,
      help: `${m.help} today (UTC), from this service's own data; NaN: fewer than the suppression threshold`,
      labelNames: [...m.labels],
      registers: [app.metricsRegistry],
      async collect() {
        try {
          const today = utcDay(new Date());
          const rows = suppressSmall((await opts.counts(today, today)).filter((r) => r.metric === m.metric));
          this.reset();
          // suppressed: NaN (unknown), as the admin endpoint's null — never the small number, never a false 0
          for (const r of rows) this.set(Object.fromEntries(m.labels.map((l) => [l, r.labels[l] ?? ''])), r.value ?? Number.NaN);
          if (m.labels.length === 0 && rows.length === 0) this.set(0);
        } catch {
          // the database is down: the last values stay; readiness says so
        }
      },
    });
  }
}
