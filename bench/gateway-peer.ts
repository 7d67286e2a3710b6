/**
 * The Node peer in bench/gateway.ts: the proxy a Node team would put in front of the same service
 * with off-the-shelf parts — Fastify, @fastify/http-proxy (reply-from over undici) for /v1, and
 * @fastify/rate-limit with its Redis store (ioredis), keyed by the client's IP, one bucket. Library
 * defaults everywhere except the limit itself (generous, like the gateway's in the bench) and the
 * key prefix (each run its own). No sessions, no hashing, no CSRF/CORS, no path normalisation, no
 * metrics: the gateway does all of those and a second bucket on top.
 * Usage: tsx bench/gateway-peer.ts <port> <service port> <redis url>
 */
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';

const port = Number(process.argv[2]);
const upstream = `http://127.0.0.1:${process.argv[3]}`;
const redisUrl = process.argv[4];
if (!port || !process.argv[3] || !redisUrl) throw new Error('usage: gateway-peer.ts <port> <service port> <redis url>');

const redis = new Redis(redisUrl, { connectionName: 'bench-peer-rate-limit' });
const app = Fastify({ logger: false });
await app.register(rateLimit, {
  global: true,
  max: 100_000_000,
  timeWindow: '1 minute',
  redis,
  nameSpace: `imlab:bench-peer:${Date.now()}:`,
  // The plugin's default key is request.ip; spelled out because this is the point of the comparison.
  keyGenerator: (request) => request.ip,
});
await app.register(proxy, { upstream, prefix: '/v1', rewritePrefix: '/v1' });
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => {
  void app.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
