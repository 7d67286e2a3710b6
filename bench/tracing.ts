// What OpenTelemetry's instrumentations cost (docs/architecture.md, "Tracing"): the same service
// route (one SQL query, one Redis GET; tracing-server.ts) in three processes started one after
// another, ROUNDS times each (default 3), interleaved: `off` (the default: no exporter, no instrumentation), `on`
// (pg, ioredis, undici and BullMQ instrumented, spans made and dropped: no exporter) and `export`
// (spans batched to a local OTLP/HTTP sink). Reported: requests per second and the server process's
// CPU time per request (user + system, from process.cpuUsage, after a warm-up).
// CPU per request is the figure to compare: requests per second follow whatever else the machine runs.
//   pnpm --filter @imlab/bench tracing      (BENCH_SECONDS, default 6)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const tag = `imlab-bench-${randomBytes(4).toString('hex')}`;
let sunk = 0;
const sink = createServer((req, res) => {
  req.on('data', (c: Buffer) => (sunk += c.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}/v1/traces`;

const VARIANTS: Record<string, Record<string, string>> = {
  off: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: '' },
  on: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,ioredis,undici,bullmq' },
  export: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: sinkUrl },
};

async function run(name: string): Promise<{ rps: number; cpuUsPerRequest: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tracing-server.ts'], {
    env: { ...process.env, ...VARIANTS[name], BENCH_TAG: tag, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve(Number(l)));
    child.once('exit', (code) => reject(new Error(`${name}: server exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const load = (duration: number) => autocannon({ url: `${url}/v1/probe`, connections: 8, duration });
  const cpu = async () => ((await (await fetch(`${url}/cpu`)).json()) as { us: number }).us;
  await load(2); // warm-up: JIT, pool and connections
  const before = await cpu();
  const result = await load(SECONDS);
  const used = (await cpu()) - before;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const requests = result.requests.total;
  if (result.non2xx || result.errors) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: requests / SECONDS, cpuUsPerRequest: used / requests };
}

const start = loadavg();
const rows: { variant: string; round: number; rps: number; cpuUsPerRequest: number }[] = [];
for (let round = 1; round <= ROUNDS; round++) for (const variant of Object.keys(VARIANTS)) rows.push({ variant, round, ...(await run(variant)) });
const end = loadavg();
sink.close();
console.log(`load average at start ${start.map((l) => l.toFixed(2)).join(' ')}, at end ${end.map((l) => l.toFixed(2)).join(' ')}; ${(sunk / 1024).toFixed(0)} KiB of spans exported`);
console.table(rows.map((r) => ({ ...r, rps: Math.round(r.rps), cpuUsPerRequest: Math.round(r.cpuUsPerRequest) })));
const median = (v: string, k: 'rps' | 'cpuUsPerRequest') => {
  const xs = rows.filter((r) => r.variant === v).map((r) => r[k]).sort((a, b) => a - b);
  return xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
};
for (const v of Object.keys(VARIANTS)) console.log(`${v}: median ${Math.round(median(v, 'cpuUsPerRequest'))} µs CPU per request, ${Math.round(median(v, 'rps'))} requests/s`);
// per round, each variant against the `off` run of the same round (side by side)
for (const v of ['on', 'export']) {
  const ratios = rows.filter((r) => r.variant === v).map((r) => r.cpuUsPerRequest / rows.find((o) => o.variant === 'off' && o.round === r.round)!.cpuUsPerRequest);
  console.log(`${v} vs off, CPU per request, per round: ${ratios.map((x) => `×${x.toFixed(2)}`).join(' ')}`);
}
