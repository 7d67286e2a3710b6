/**
 * Create → succeeded at idle as a person sees it (#22): through the gateway and the event stream,
 * on the whole system (every service, the gateway and a render worker as separate processes: the
 * end-to-end tests' `startSystem`, the same entry points the start script runs). One person signs
 * up and verifies their email through the gateway; then BENCH_IDLE (40) generations, one at a time
 * with a pause between (after 5 not counted), each: POST /v1/generations, and as soon as it is
 * accepted the generation's event stream opened (what the web app does), until the `succeeded`
 * event arrives. The local image service at LOCAL_RENDER_MS=0 (it still paints and the worker
 * encodes the PNG and the thumbnail).
 *
 * Beside the client's clock, the generation's own timestamps (created, queued, started, finished:
 * one machine, one clock) split the time into: the create's answer through the gateway, the
 * reserve (created → queued: the ledger's round trip), the render job's hop (queued → started),
 * the render (started → finished); and, from the status notices this bench also subscribes to,
 * finished → the notice (the success's commit) and the notice → the event at the client (the
 * generation service's stream, the gateway).
 *
 *   pnpm --filter @imlab/bench generation-gateway
 *
 * Private databases and queue prefix, removed at the end. Writes the "Generation through the
 * gateway" section of docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createApiClient, generationEvents, type ApiClientOptions } from '@imlab/client';
import { eventually, removeTestRun } from '@imlab/testing';
import { REDIS, SERVER, machine, ms, pct, sleep, writeSection } from './support/common.js';

const IDLE = Number(process.env.BENCH_IDLE ?? 40);
const WARMUP = 5;
const runId = `b${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
// startSystem names its databases and queue prefix after the test run it belongs to: this run.
process.env.IMLAB_TEST_RUN = runId;
process.env.DATABASE_URL ??= SERVER;
process.env.REDIS_URL ??= REDIS;
const { startSystem } = await import('@imlab/e2e/test/system.js');
const { mailedToken } = await import('@imlab/e2e/test/browser.js');

const now = () => performance.timeOrigin + performance.now();
const { load, cores } = machine();
const at = new Date().toISOString().slice(0, 16);

/** A person's client: a cookie jar, a same-site Origin, and the generated API client on it. */
function person(baseUrl: string, origin: string) {
  const cookies = new Map<string, string>();
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    request.headers.set('origin', origin);
    request.headers.set('sec-fetch-site', 'same-origin');
    request.headers.set('user-agent', 'imlab-bench/1');
    if (cookies.size) request.headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(request, { redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=');
      if (v) cookies.set(k!, v);
      else cookies.delete(k!);
    }
    return res;
  };
  const options: ApiClientOptions = { baseUrl, fetch: fetchImpl };
  return { options, api: createApiClient(options) };
}

type Row = { answered: number; event: number; before: number; reserve: number; hop: number; render: number; commit: number; delivery: number; server: number };
const rows: Row[] = [];
const sys = await startSystem('bench_gw', {
  LOG_LEVEL: 'warn',
  LOCAL_RENDER_MS: '0',
  SIGNUP_BONUS_CREDITS: '5000',
  RATE_LIMIT_GENERATION: '1000/1m',
  // the services' own pool (the tests share the server with other files and keep it at 3)
  DB_POOL_SIZE: '10',
  RENDER_CONCURRENCY: '2',
}, { selfOrigin: true });
const genDb = new pg.Client({ connectionString: (() => {
  const u = new URL(SERVER);
  u.pathname = `/${sys.databases.generation!}`;
  return u.toString();
})() });
// The status notices the worker publishes (Redis pub/sub, what the event stream listens to), seen
// here too: they split "finished → the event" into the commit and the delivery.
const listener = new Redis(REDIS);
const published = new Map<string, number>();
try {
  await genDb.connect();
  await listener.subscribe(`${sys.prefix}:generation-status`);
  listener.on('message', (_channel: string, message: string) => {
    const [id, status] = message.split(' ');
    if (status === 'succeeded') published.set(id!, now());
  });
  const me = person(sys.gatewayUrl, sys.gatewayUrl);
  const email = `bench-${runId}@example.com`;
  const password = 'a quiet workshop 2026';
  const signup = await me.api.POST('/v1/auth/signup', { body: { email, password, displayName: 'Bench' } });
  if (signup.response.status !== 202) throw new Error(`sign-up answered ${signup.response.status}`);
  const token = await eventually(() => mailedToken(sys, email, 'verify-email'), 20_000);
  await me.api.POST('/v1/auth/verify-email', { body: { token } });
  const login = await me.api.POST('/v1/auth/login', { body: { email, password } });
  if (login.response.status !== 200) throw new Error(`login answered ${login.response.status}`);
  // the sign-up bonus, granted by the ledger once auth's event reaches it
  await eventually(async () => ((await me.api.GET('/v1/credits/balance')).data?.available ?? 0) > 0, 20_000);

  for (let i = 0; i < IDLE + WARMUP; i++) {
    await sleep(150);
    const t0 = now();
    const created = await me.api.POST('/v1/generations', { body: { prompt: `a lighthouse in fog, number ${i}`, model: 'imlab-draft', size: '512x512', count: 1 } });
    const answered = now();
    if (created.response.status !== 202) throw new Error(`create answered ${created.response.status}: ${JSON.stringify(created.error)}`);
    const id = created.data!.id;
    let event = 0;
    let status = '';
    for await (const e of generationEvents(id, { ...me.options, signal: AbortSignal.timeout(60_000) })) {
      status = e.generation.status;
      if (status === 'succeeded' || status === 'failed') event = now();
    }
    if (status !== 'succeeded') throw new Error(`generation ${id} ended ${status}`);
    if (i < WARMUP) continue;
    const { rows: [t] } = await genDb.query<{ c: number; q: number; s: number; f: number }>(
      `select extract(epoch from created_at) * 1000 as c, extract(epoch from queued_at) * 1000 as q,
              extract(epoch from started_at) * 1000 as s, extract(epoch from finished_at) * 1000 as f
         from generations where id = $1`,
      [id],
    );
    const [c, q, s, f] = [Number(t!.c), Number(t!.q), Number(t!.s), Number(t!.f)];
    const p = published.get(id) ?? Number.NaN;
    rows.push({ answered: answered - t0, event: event - t0, before: c - t0, reserve: q - c, hop: s - q, render: f - s, commit: p - f, delivery: event - p, server: f - c });
  }
} finally {
  listener.disconnect();
  await genDb.end().catch(() => undefined);
  await sys.stop();
  await removeTestRun(SERVER, REDIS, runId);
  rmSync(sys.dataDir, { recursive: true, force: true });
}

const cell = (k: keyof Row) => `${ms(pct(rows.map((r) => r[k]), 50))} / ${ms(pct(rows.map((r) => r[k]), 99))}`;
const met = pct(rows.map((r) => r.event), 50) <= 25 ? 'met' : 'not met';
const generated = `## Generation through the gateway (#22)

\`pnpm --filter @imlab/bench generation-gateway\` (bench/generation-gateway.ts), run ${at}Z on ${cores} CPU cores (load average ${load.toFixed(1)} at the start).
The whole system (every service, the gateway and one render worker as separate processes, the end-to-end tests' \`startSystem\`),
one person signed in through the gateway; ${rows.length} generations one at a time (after ${WARMUP} not counted), each a 512x512
image from the local image service at LOCAL_RENDER_MS=0. The clock starts when the client sends POST /v1/generations and stops
when the \`succeeded\` event arrives on the generation's event stream, opened as soon as the create is accepted (as the web
app does). The stages come from the generation's own timestamps (the same machine's clock).

| stage (ms: p50 / p99) | |
|---|---|
| sent → the generation's row begun (the gateway: session, rate limit; the service: checks, BEGIN) | ${cell('before')} |
| created → queued (the reserve: outbox → relay → the ledger's inbox → its answer back the same way) | ${cell('reserve')} |
| queued → started (the render job: outbox → relay → BullMQ → the worker claims it) | ${cell('hop')} |
| started → finished (the claim's commit; paint, encode the PNG and the thumbnail, store both) | ${cell('render')} |
| finished → the notice published (the commit: success, images, capture and finished messages; then PUBLISH) | ${cell('commit')} |
| the notice → the \`succeeded\` event at the client (the service re-reads the row, the stream, the gateway) | ${cell('delivery')} |
| (created → finished, the service's own clock) | ${cell('server')} |
| (the create answered through the gateway: 202 after the reserve's answer) | ${cell('answered')} |
| **create → the \`succeeded\` event, as the person sees it** | **${cell('event')}** |

Goal (issue #22): create → succeeded ≤ 25 ms median at idle through the gateway — **${met}** (${ms(pct(rows.map((r) => r.event), 50))} ms).
`;
const file = await writeSection('generation-gateway', generated);
console.log(`${generated}\nwritten to ${file}`);
