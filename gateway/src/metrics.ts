import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  duration: Histogram<'method' | 'route' | 'status'>;
  rateLimit: Counter<'policy' | 'decision'>;
  rateLimitBatch: Histogram;
  upstreamErrors: Counter<'service' | 'kind'>;
  sessions: Counter<'result'>;
}

/** One registry per app, so tests can run several gateways in one process. */
export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'gateway' });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    duration: new Histogram({
      name: 'imlab_http_request_duration_seconds',
      help: 'Gateway latency by route template, method and status (includes the upstream)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    rateLimit: new Counter({
      name: 'imlab_gateway_rate_limit_decisions_total',
      help: 'Rate-limit decisions; decision = allowed | limited | fail_open_local | fail_closed',
      labelNames: ['policy', 'decision'],
      registers: [registry],
    }),
    rateLimitBatch: new Histogram({
      name: 'imlab_gateway_rate_limit_batch_decisions',
      help: 'Rate-limit decisions sent to Redis together in one script call (one event-loop turn)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'imlab_gateway_upstream_errors_total',
      help: 'Upstream failures by service; kind = unavailable | timeout | failed',
      labelNames: ['service', 'kind'],
      registers: [registry],
    }),
    sessions: new Counter({
      name: 'imlab_gateway_session_resolutions_total',
      help: 'Session cookie resolutions; result = session | anonymous | unavailable',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

const ID_SEGMENT = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z]{2,5}_[A-Za-z0-9]+|\d+|[A-Za-z0-9_-]{16,})$/i;

/** `/v1/generations/0190…/events` → `/v1/generations/:id/events`. */
export function routeTemplate(path: string): string {
  let template = templates.get(path);
  if (template === undefined) {
    template = path
      .split('/')
      .map((s) => (ID_SEGMENT.test(s) ? ':id' : s))
      .join('/');
    if (path.length > 256) return template;
    if (templates.size >= 10_000) templates.clear();
    templates.set(path, template);
  }
  return template;
}

/**
 * The route label of a forwarded request. Only an answer that succeeded names its path's template
 * (real resources, bounded); anything else is labelled by the service's prefix: a client sending
 * made-up paths (`/v1/images/abcdefgh`, each answered 400, 404 or 429) must not create a histogram
 * series per path and grow the process's memory without end.
 */
export function forwardedRouteLabel(path: string, status: number, prefix: string): string {
  return status < 400 ? routeTemplate(path) : `${prefix}/*`;
}
const templates = new Map<string, string>();

