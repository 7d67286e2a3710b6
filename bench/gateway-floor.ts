/**
 * The floor under the gateway in bench/gateway.ts: the same Fastify server and the same undici
 * dispatch path to the service (gateway/src/routing/forward.ts), with none of the gateway's work —
 * no path normalisation, hashing, headers, session, rate limit, metrics. The gap between this and
 * nginx is what Node's HTTP stack costs here; the gap between this and the gateway is the features.
 * Given a Redis URL it also takes the gateway's rate-limit decision (the same limiter, the same two
 * buckets a signed-out read checks) before forwarding: the floor of a proxy that must ask Redis.
 * Usage: tsx bench/gateway-floor.ts <port> <service port> [redis url]
 */
import Fastify from 'fastify';
import { Agent } from 'undici';
import { createLogger } from '@imlab/logger';
import { sendUpstream } from '@imlab/gateway/forward';
import { createLimiter } from '@imlab/gateway/limiter';

const port = Number(process.argv[2]);
const origin = `http://127.0.0.1:${process.argv[3]}`;
const redisUrl = process.argv[4];
const limiter = redisUrl ? createLimiter(redisUrl, 2000, createLogger({ service: 'bench-floor', level: 'warn' })) : undefined;
const buckets = [
  { policy: 'read', key: `imlab:bench-floor:${Date.now()}:read`, limit: 100_000_000, windowSeconds: 60, cost: 1 },
  { policy: 'not-found', key: `imlab:bench-floor:${Date.now()}:nf`, limit: 100_000_000, windowSeconds: 60, cost: 0 },
];
const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
const app = Fastify({ logger: false });
app.get('/*', async (request, reply) => {
  if (limiter && !(await limiter.decide(buckets, false)).allowed) return reply.code(429).send();
  const answer = await sendUpstream(dispatcher, { origin, path: request.url, method: 'GET', headers: {}, body: null, timeoutMs: 30_000, bufferLimit: 64 * 1024 });
  reply.code(answer.status).header('content-type', answer.headers['content-type']);
  return reply.send(answer.body);
});
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
