import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics, Counter, Histogram } from 'prom-client';
import { problemCodes } from './problem.js';

/** A registry per app so tests can build several apps in one process. */
export function registerMetrics(app: FastifyInstance, service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'imlab_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // By registered error code (a closed set, so bounded): webhook signature failures, 402s, 5xx causes.
  const problems = new Counter({
    name: 'imlab_http_problems_total',
    help: 'problem+json answers by error code and status',
    labelNames: ['code', 'status'],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.labels(request.method, route, String(reply.statusCode)).observe(reply.elapsedTime / 1000);
    const code = problemCodes.get(request);
    if (code) problems.labels(code, String(reply.statusCode)).inc();
  });
  return registry;
}

/**
 * The internal listener (METRICS_PORT) of a process: GET /metrics and nothing else. Never the
 * public port: the counters name routes, outcomes and failures an outsider has no business
 * reading, and the public listener answers /metrics 404 like any unknown path.
 */
export function createMetricsServer(registry: Pick<Registry, 'metrics' | 'contentType'>, path = '/metrics'): Server {
  const server = createServer((req, res) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && (req.url === path || req.url?.startsWith(`${path}?`))) {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

/** Starts a metrics listener on `port` (0: any free port) and answers it with the port it got. */
export async function listenMetrics(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** Closes a metrics listener (its idle scrape connections too). */
export async function closeMetrics(server: Server): Promise<void> {
  server.closeAllConnections();
  if (server.listening) await new Promise((r) => server.close(r));
}
