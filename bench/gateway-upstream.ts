/**
 * The service behind every variant of the gateway benchmark: a real @imlab/http app (the factory
 * every service uses) with one small GET, plus auth's session-resolution endpoint so the gateway
 * can resolve the bench's cookie. Usage: tsx bench/gateway-upstream.ts <port>
 */
import { Type } from '@sinclair/typebox';
import { buildApp } from '@imlab/http';
import { createLogger } from '@imlab/logger';

const port = Number(process.argv[2] ?? 4900);
const logger = createLogger({ service: 'bench-upstream', level: 'warn' });
const app = await buildApp({ service: 'bench-upstream', logger });

app.get(
  '/v1/credits/balance',
  { schema: { response: { 200: Type.Object({ available: Type.Integer(), held: Type.Integer(), currency: Type.String() }) } } },
  async () => ({ available: 1250, held: 40, currency: 'credits' }),
);
app.post('/internal/sessions/resolve', async () => ({ token: 'bench.internal.jwt', userId: 'usr_bench', expiresIn: 60 }));

await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
