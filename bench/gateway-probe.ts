/**
 * A probe of the gateway's half-load tail (not a benchmark: nothing is compared): the gateway alone
 * in front of bench/gateway-upstream.ts, under evenly paced open-loop load, one line per window with
 * the client's p50/p99 and, from the gateway's own /metrics listener, its event-loop delay and GC
 * time in that window; the service measured directly the same way between windows, as the
 * instrument's own noise. Used to find what adds the tail (docs/benchmarks.md, "Gateway").
 *
 *   pnpm exec tsx bench/gateway-probe.ts [rate=1600] [windows=10] [seconds per window=2]
 *   PROBE_NODE_ARGS='--trace-gc' PROBE_ENV='{"SESSION_CACHE_TTL":"0"}' pnpm exec tsx bench/gateway-probe.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { paced } from './paced.js';
import { freePort } from './support/common.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const [rate = 1600, windows = 10, seconds = 2] = process.argv.slice(2).map(Number);
const HEADERS = { cookie: 'imlab_sid=bench-session-token', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' };
const children: ChildProcess[] = [];

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url, { headers: HEADERS })).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

async function scrape(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await (await fetch(url)).text()).split('\n')) {
    const m = /^(nodejs_eventloop_lag_(?:p99|max)_seconds|nodejs_gc_duration_seconds_sum)(\{[^}]*\})?\s+([\d.e+-]+)$/.exec(line);
    if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[3]));
  }
  return out;
}

const [servicePort, gatewayPort, metricsPort, redisPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
const service = `http://127.0.0.1:${servicePort}`;
try {
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning']);
  start(process.execPath, ['--import', 'tsx', 'bench/gateway-upstream.ts', String(servicePort)]);
  const nodeArgs = (process.env.PROBE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  start(process.execPath, [...nodeArgs, '--import', 'tsx', 'gateway/src/main.ts'], {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    GATEWAY_PORT: String(gatewayPort),
    METRICS_PORT: String(metricsPort),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    RATE_LIMIT_PREFIX: `imlab:probe:${Date.now()}`,
    RATE_LIMIT_READ: '100000000/1m',
    RATE_LIMIT_NOT_FOUND: '100000000/1m',
    AUTH_URL: service,
    LEDGER_URL: service,
    GENERATION_URL: service,
    BILLING_URL: service,
    NOTIFICATION_URL: service,
    ...(JSON.parse(process.env.PROBE_ENV ?? '{}') as Record<string, string>),
  });
  const gateway = `http://127.0.0.1:${gatewayPort}/v1/credits/balance`;
  const direct = `${service}/v1/credits/balance`;
  const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
  await waitFor(direct);
  await waitFor(gateway);
  await paced(gateway, 5, rate, HEADERS);
  await paced(direct, 2, rate, HEADERS);
  process.stdout.write(`rate ${rate} req/s, ${seconds} s windows\nwindow | direct p50 / p99 ms | gateway p50 / p99 ms | gateway event-loop delay p99 / max ms (late beyond the 10 ms tick) | GC ms\n`);
  for (let w = 0; w < windows; w++) {
    const d = await paced(direct, seconds, rate, HEADERS);
    await paced(gateway, 0.5, rate, HEADERS);
    const before = await scrape(metrics);
    const g = await paced(gateway, seconds, rate, HEADERS);
    const after = await scrape(metrics);
    const ms = (k: string) => (after.get(k) ?? NaN) * 1000;
    const gc = ms('nodejs_gc_duration_seconds_sum') - (before.get('nodejs_gc_duration_seconds_sum') ?? NaN) * 1000;
    process.stdout.write(
      `${w} | ${d.p50.toFixed(2)} / ${d.p99.toFixed(2)} | ${g.p50.toFixed(2)} / ${g.p99.toFixed(2)} | ${(ms('nodejs_eventloop_lag_p99_seconds') - 10).toFixed(1)} / ${(ms('nodejs_eventloop_lag_max_seconds') - 10).toFixed(1)} | ${gc.toFixed(0)}\n`,
    );
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.exit(0);
