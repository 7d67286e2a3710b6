/**
 * The floor under the gateway in bench/gateway.ts: the same Fastify server and the same undici
 * dispatch path to the service (gateway/src/routing/forward.ts), with none of the gateway's work —
 * no path normalisation, hashing, headers, session, rate limit, metrics. The gap between this and
 * nginx is what Node's HTTP stack costs here; the gap between this and the gateway is the features.
 * Usage: tsx bench/gateway-floor.ts <port> <service port>
 */
import Fastify from 'fastify';
import { Agent } from 'undici';
import { sendUpstream } from '@imlab/gateway/forward';

const port = Number(process.argv[2]);
const origin = `http://127.0.0.1:${process.argv[3]}`;
const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
const app = Fastify({ logger: false });
app.get('/*', async (request, reply) => {
  const answer = await sendUpstream(dispatcher, { origin, path: request.url, method: 'GET', headers: {}, body: null, timeoutMs: 30_000, bufferLimit: 64 * 1024 });
  reply.code(answer.status).header('content-type', answer.headers['content-type']);
  return reply.send(answer.body);
});
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
