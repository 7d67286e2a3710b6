/**
 * Gateway benchmark: one script, one run.
 *
 *   apt-get update && apt-get install -y nginx wrk # once: the nginx comparison, the load generator
 *   pnpm --filter @imlab/bench gateway   # or: pnpm exec tsx bench/gateway.ts
 *
 * Rate limits go to a private redis-server when one is installed, else to REDIS_URL.
 *
 * The same small GET (/v1/credits/balance, a real @imlab/http app) is measured these ways:
 *   direct  — the service itself;
 *   gateway — through gateway/src/main.ts: identity hashing, a rate-limit decision over two buckets
 *             (from a lease taken in Redis for a busy subject, gateway/src/rate-limit/leases.ts),
 *             CSRF/CORS, session cookie resolution (auth's answer reused in-process for
 *             SESSION_CACHE_TTL), proxying;
 *   gateway, leases off — the same with RATE_LIMIT_LEASE_MAX=0: one Redis decision per request;
 *   nginx   — `limit_req` + `proxy_pass` (keepalive upstream) to the same service, 1 worker;
 *   peer    — bench/gateway-peer.ts: the Node proxy built from stock parts (Fastify,
 *             @fastify/http-proxy, @fastify/rate-limit with its Redis store, keyed by IP);
 *   floor   — reference only: bench/gateway-floor.ts, the gateway's Fastify server and undici
 *             dispatch path with none of its features (what Node's HTTP stack alone costs here);
 *   floor+redis — reference only: the floor plus the gateway's Redis rate-limit decision.
 * First each at saturation (wrk, else autocannon; fixed connections, as fast as possible) in
 * BENCH_ROUNDS interleaved rounds (this machine's speed drifts within minutes, so every round runs
 * every variant back to back, direct first and the others in an order rotated every round; ratios are
 * taken within a round, their median reported), then each at
 * half of the gateway's saturation throughput with an evenly paced open-loop client, again in
 * BENCH_ROUNDS interleaved rounds (after one warm-up at that pace per variant), where the p99 added
 * over direct in the same round is read (median over rounds). During each gateway half-load window
 * its event-loop delay and GC time are read from its own /metrics listener. Prints a markdown report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { paced, type Run } from './paced.js';
import { freePort } from './support/common.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/**
 * The rate-limit Redis: a private redis-server started for the run when one is on PATH (the shared
 * development Redis also carries every other test's queues, whose Lua scripts stall it for
 * milliseconds), else REDIS_URL. BENCH_SHARED_REDIS=1 forces REDIS_URL.
 */
const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SATURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const HALF_LOAD_SECONDS = Number(process.env.BENCH_HALF_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const HALF_LOAD_WARMUP_SECONDS = 3;
/** Paced load before each measured half-load window, not counted (the client's sockets, the JIT). */
const HALF_LOAD_LEAD_IN_SECONDS = 1;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PATH = '/v1/credits/balance';
const HEADERS = { cookie: 'imlab_sid=bench-session-token', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' };

const children: ChildProcess[] = [];
let nginxDir: string | undefined;

/** Node processes are started directly (no tsx CLI wrapper in between), so signals reach them. */
function startTs(file: string, args: string[] = [], env: Record<string, string> = {}): ChildProcess {
  return start(process.execPath, ['--import', 'tsx', file, ...args], env);
}

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

async function waitFor(url: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url, { headers: HEADERS });
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


/**
 * Saturation load: wrk (Debian package `wrk`, C, one thread) when installed, else autocannon.
 * On two cores shared by everything, the load generator's own CPU is taken from the proxies under
 * test; wrk needs a fraction of what autocannon (Node) needs per request. BENCH_LOADGEN=autocannon
 * forces autocannon.
 */
const LOADGEN = process.env.BENCH_LOADGEN ?? (hasCommand('wrk') ? 'wrk' : 'autocannon');

async function load(url: string, seconds: number): Promise<Run> {
  return LOADGEN === 'wrk' ? wrk(url, seconds) : autocannonLoad(url, seconds);
}

/** wrk's latency percentiles come from its own HdrHistogram (microsecond resolution). */
async function wrk(url: string, seconds: number): Promise<Run> {
  const headers = Object.entries(HEADERS).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const child = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...headers, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${out}`);
  const ms = (line: RegExp): number => {
    const m = line.exec(out);
    if (!m) return NaN;
    const unit = m[2];
    return Number(m[1]) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: ms(/^\s+50%\s+([\d.]+)(us|ms|s)$/m),
    p99: ms(/^\s+99%\s+([\d.]+)(us|ms|s)$/m),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/** autocannon's own histogram has 1 ms resolution; latencies are collected here at full precision. */
async function autocannonLoad(url: string, seconds: number): Promise<Run> {
  const samples: number[] = [];
  const result = await new Promise<autocannon.Result>((done, fail) => {
    const instance = autocannon({ url, connections: CONNECTIONS, duration: seconds, headers: HEADERS }, (err, r) => (err ? fail(err) : done(r)));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status === 200) samples.push(ms);
    });
  });
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? NaN;
  return { rps: result.requests.average, p50: pct(50), p99: pct(99), non2xx: result.non2xx + result.errors };
}

function hasCommand(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, cmd)));
}

function nginxConfig(dir: string, listen: number, upstream: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  limit_req_zone $binary_remote_addr zone=api:10m rate=1000000r/s;
  upstream svc { server 127.0.0.1:${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen};
    location / {
      limit_req zone=api burst=1000000 nodelay;
      proxy_pass http://svc;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** SIGTERM everyone (nginx's master then stops its workers), SIGKILL whoever is left after 5 s. */
async function shutdown(): Promise<void> {
  const exits = children.filter(running).map((c) => new Promise<void>((r) => c.once('exit', () => r())));
  for (const c of children) if (running(c)) c.kill('SIGTERM');
  await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000))]);
  cleanup();
}

function cleanup(): void {
  for (const c of children) if (running(c)) c.kill(c.spawnfile === 'nginx' ? 'SIGTERM' : 'SIGKILL');
  if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  nginxDir = undefined;
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** The gateway's own event-loop delay and GC time, from its /metrics listener (prom-client resets the delay histogram on every scrape). */
/** prom-client's monitorEventLoopDelay resolution: its histogram records whole tick intervals. */
const LOOP_RESOLUTION_MS = 10;
interface LoopStats {
  lagP99Ms: number;
  lagMaxMs: number;
  gcMs: number;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(nodejs_eventloop_lag_(?:p99|max)_seconds|nodejs_gc_duration_seconds_sum)(\{[^}]*\})?\s+([\d.e+-]+)$/.exec(line);
    if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[3]));
  }
  return out;
}

/** CPU time (user + system) the processes have used so far, in ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pids: number[]): number {
  let ticks = 0;
  try {
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    }
  } catch {
    return NaN;
  }
  return (ticks * 1000) / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function medianOf<T>(xs: T[], key: (x: T) => number): number {
  return median(xs.map(key));
}

async function main(): Promise<void> {
  const loadBefore = loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
  const started = new Date();
  const [servicePort, gatewayPort, nginxPort, redisPort, floorPort, floorRedisPort, peerPort, metricsPort, noLeasePort, noLeaseMetricsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const service = `http://127.0.0.1:${servicePort}`;
  let redisUrl = SHARED_REDIS_URL;
  let redisNote = 'the shared development Redis';
  if (!process.env.BENCH_SHARED_REDIS && hasCommand('redis-server')) {
    start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    redisNote = 'a private redis-server';
    await new Promise((r) => setTimeout(r, 500));
  }
  const pids: Record<string, () => number[]> = {};
  const upstream = startTs('bench/gateway-upstream.ts', [String(servicePort)]);
  const floor = startTs('bench/gateway-floor.ts', [String(floorPort), String(servicePort)]);
  const floorRedis = startTs('bench/gateway-floor.ts', [String(floorRedisPort), String(servicePort), redisUrl]);
  const peer = startTs('bench/gateway-peer.ts', [String(peerPort), String(servicePort), redisUrl]);
  pids.direct = () => [upstream.pid!];
  pids.floor = () => [floor.pid!];
  pids['floor+redis'] = () => [floorRedis.pid!];
  pids.peer = () => [peer.pid!];
  const gatewayEnv = (port: number, metrics: number, extra: Record<string, string> = {}) => ({
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    GATEWAY_PORT: String(port),
    METRICS_PORT: String(metrics),
    REDIS_URL: redisUrl,
    RATE_LIMIT_PREFIX: `imlab:bench:${port}:${Date.now()}`,
    RATE_LIMIT_READ: '100000000/1m',
    RATE_LIMIT_NOT_FOUND: '100000000/1m',
    AUTH_URL: service,
    LEDGER_URL: service,
    GENERATION_URL: service,
    BILLING_URL: service,
    NOTIFICATION_URL: service,
    ...extra,
  });
  const gatewayProcess = startTs('gateway/src/main.ts', [], gatewayEnv(gatewayPort, metricsPort));
  // The same gateway asking Redis for every request (rate-limit leases off): what leases change.
  const noLeaseProcess = startTs('gateway/src/main.ts', [], gatewayEnv(noLeasePort, noLeaseMetricsPort, { RATE_LIMIT_LEASE_MAX: '0' }));
  pids['gateway, leases off'] = () => [noLeaseProcess.pid!];
  nginxDir = mkdtempSync(join(tmpdir(), 'imlab-bench-nginx-'));
  writeFileSync(join(nginxDir, 'nginx.conf'), nginxConfig(nginxDir, nginxPort, servicePort));
  const nginx = start('nginx', ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-g', 'daemon off;']);
  pids.gateway = () => [gatewayProcess.pid!];
  // The worker does the work; the master only supervises.
  pids.nginx = () => childPids(nginx.pid!);

  const targets = {
    direct: `${service}${PATH}`,
    gateway: `http://127.0.0.1:${gatewayPort}${PATH}`,
    'gateway, leases off': `http://127.0.0.1:${noLeasePort}${PATH}`,
    nginx: `http://127.0.0.1:${nginxPort}${PATH}`,
    peer: `http://127.0.0.1:${peerPort}${PATH}`,
    floor: `http://127.0.0.1:${floorPort}${PATH}`,
    'floor+redis': `http://127.0.0.1:${floorRedisPort}${PATH}`,
  };
  const names = Object.keys(targets) as (keyof typeof targets)[];
  /** Round r's order: direct first, the others rotated by r, so no variant always follows the same one. */
  const inOrder = (r: number) => {
    const rest = names.slice(1);
    return [names[0]!, ...rest.slice(r % rest.length), ...rest.slice(0, r % rest.length)];
  };
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  for (const url of Object.values(targets)) await waitFor(url);
  for (const url of Object.values(targets)) await load(url, 3); // warm-up: JIT, keep-alive pools

  const rounds: Record<string, Run>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round: Record<string, Run> = {};
    for (const name of inOrder(r)) {
      const cpu = cpuMs(pids[name]!());
      round[name] = await load(targets[name], SATURATION_SECONDS);
      round[name].cpuUsPerRequest = ((cpuMs(pids[name]!()) - cpu) * 1000) / (round[name].rps * SATURATION_SECONDS);
    }
    rounds.push(round);
  }
  // Each variant's round with the median throughput stands for it in the table.
  const saturated: Record<string, Run> = Object.fromEntries(names.map((n) => [n, [...rounds.map((r) => r[n]!)].sort((a, b) => a.rps - b.rps)[Math.floor(ROUNDS / 2)]!]));
  /** Median over rounds of a / b, both measured in the same round. */
  const ratio = (a: string, b: string) => median(rounds.map((r) => r[a]!.rps / r[b]!.rps));
  const halfRate = Math.floor(saturated.gateway!.rps / 2);

  // Half load: one warm-up at the pace per variant (right after saturation a Node process runs slow
  // for a few seconds, re-optimising), then interleaved rounds, each window after a short lead-in.
  for (const name of names) await paced(targets[name], HALF_LOAD_WARMUP_SECONDS, halfRate, HEADERS);
  const halfRounds: Record<string, Run>[] = [];
  const loops: LoopStats[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round: Record<string, Run> = {};
    for (const name of inOrder(r)) {
      await paced(targets[name], HALF_LOAD_LEAD_IN_SECONDS, halfRate, HEADERS);
      const before = name === 'gateway' ? await scrape(metricsUrl) : undefined;
      const cpu = cpuMs(pids[name]!());
      round[name] = await paced(targets[name], HALF_LOAD_SECONDS, halfRate, HEADERS);
      round[name].cpuUsPerRequest = ((cpuMs(pids[name]!()) - cpu) * 1000) / (round[name].rps * HALF_LOAD_SECONDS);
      if (before) {
        const after = await scrape(metricsUrl);
        loops.push({
          // prom-client reports the interval between two 10 ms ticks, not how late the second came.
          lagP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000 - LOOP_RESOLUTION_MS,
          lagMaxMs: (after.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000 - LOOP_RESOLUTION_MS,
          gcMs: ((after.get('nodejs_gc_duration_seconds_sum') ?? NaN) - (before.get('nodejs_gc_duration_seconds_sum') ?? NaN)) * 1000,
        });
      }
    }
    halfRounds.push(round);
  }
  const halfMedian = (n: string, k: 'p50' | 'p99') => medianOf(halfRounds, (r) => r[n]![k]);
  /** Median over rounds of the p99 `n` adds over direct in the same round. */
  const added = (n: string) => medianOf(halfRounds, (r) => r[n]!.p99 - r.direct!.p99);
  const everyAdded = (n: string) => halfRounds.map((r) => fmt(r[n]!.p99 - r.direct!.p99, 1)).join(' / ');
  const loadAfter = loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

  const s = saturated;
  const verdict = (ok: boolean) => (ok ? '**met**' : '**not met**');
  const gwNginx = ratio('gateway', 'nginx');
  const gwPeer = ratio('gateway', 'peer');
  const gwAdded = added('gateway');
  const peerAdded = added('peer');
  const lines = [
    `Run: ${started.toISOString()} → ${new Date().toISOString()}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? 'unknown'}), load average (1/5/15 min) at start ${loadBefore}, at end ${loadAfter}, Node ${process.version}, rate limits in ${redisNote}, saturation load by ${LOADGEN}, ${CONNECTIONS} connections, ${SATURATION_SECONDS} s per variant per round, ${ROUNDS} interleaved rounds; half load ${HALF_LOAD_SECONDS} s per variant per round, ${ROUNDS} interleaved rounds; load generator, service, proxies, Redis and nginx on the same machine.`,
    '',
    `| variant | saturation req/s (median of ${ROUNDS}) | every round | p50 ms | p99 ms | CPU µs per request | errors | half load (${halfRate} req/s): p50 ms | p99 ms (median of ${ROUNDS}) | p99 added over direct, every round | CPU µs per request |`,
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|',
    ...names.map(
      (n) =>
        `| ${n} | ${fmt(s[n]!.rps, 0)} | ${rounds.map((r) => fmt(r[n]!.rps, 0)).join(' / ')} | ${fmt(s[n]!.p50)} | ${fmt(s[n]!.p99)} | ${fmt(medianOf(rounds, (r) => r[n]!.cpuUsPerRequest ?? NaN), 0)} | ${rounds.reduce((a, r) => a + r[n]!.non2xx, 0) + halfRounds.reduce((a, r) => a + r[n]!.non2xx, 0)} | ${fmt(halfMedian(n, 'p50'))} | ${fmt(halfMedian(n, 'p99'))} | ${n === 'direct' ? '—' : everyAdded(n)} | ${fmt(medianOf(halfRounds, (r) => r[n]!.cpuUsPerRequest ?? NaN), 0)} |`,
    ),
    '',
    `| goal | measured (median over rounds of the within-round value) | verdict |`,
    '|---|---|---|',
    `| gateway p99 added over direct at half load ≤ 2 ms | ${fmt(gwAdded)} ms (every round: ${everyAdded('gateway')}); nginx ${fmt(added('nginx'))}, peer ${fmt(peerAdded)}, floor ${fmt(added('floor'))}, floor+redis ${fmt(added('floor+redis'))} ms | ${verdict(gwAdded <= 2)} |`,
    `| gateway throughput ≥ 0.6 × nginx | ${fmt(gwNginx)} (every round: ${rounds.map((r) => fmt(r.gateway!.rps / r.nginx!.rps)).join(' / ')}) | ${verdict(gwNginx >= 0.6)} |`,
    `| gateway throughput ≥ 1.3 × the Node peer | ${fmt(gwPeer)} (every round: ${rounds.map((r) => fmt(r.gateway!.rps / r.peer!.rps)).join(' / ')}) | ${verdict(gwPeer >= 1.3)} |`,
    `| gateway p99 lower than the peer's | saturation ${fmt(s.gateway!.p99)} vs ${fmt(s.peer!.p99)} ms; half load ${fmt(halfMedian('gateway', 'p99'))} vs ${fmt(halfMedian('peer', 'p99'))} ms | ${verdict(s.gateway!.p99 < s.peer!.p99 && halfMedian('gateway', 'p99') < halfMedian('peer', 'p99'))} |`,
    '',
    `CPU per request is the proxy's own process (nginx: its worker; direct: the service) over the window, median over rounds: less sensitive than throughput to other work on the machine. Gateway / peer CPU per request at saturation: ${fmt(medianOf(rounds, (r) => r.gateway!.cpuUsPerRequest! / r.peer!.cpuUsPerRequest!))}, at half load: ${fmt(medianOf(halfRounds, (r) => r.gateway!.cpuUsPerRequest! / r.peer!.cpuUsPerRequest!))}.`,
    `Leases: gateway / gateway with leases off ${fmt(ratio('gateway', 'gateway, leases off'))} at saturation; p99 added at half load ${fmt(gwAdded)} vs ${fmt(added('gateway, leases off'))} ms; CPU per request ${fmt(medianOf(rounds, (r) => r.gateway!.cpuUsPerRequest ?? NaN), 0)} vs ${fmt(medianOf(rounds, (r) => r['gateway, leases off']!.cpuUsPerRequest ?? NaN), 0)} µs; leases off / peer ${fmt(ratio('gateway, leases off', 'peer'))}.`,
    `References: gateway / direct ${fmt(ratio('gateway', 'direct'))}; nginx / direct ${fmt(ratio('nginx', 'direct'))}; floor / nginx ${fmt(ratio('floor', 'nginx'))}; floor+redis / nginx ${fmt(ratio('floor+redis', 'nginx'))}; peer / nginx ${fmt(ratio('peer', 'nginx'))}; gateway / floor ${fmt(ratio('gateway', 'floor'))}; gateway / floor+redis ${fmt(ratio('gateway', 'floor+redis'))}.`,
    `The gateway's own event loop during its half-load windows (prom-client's monitorEventLoopDelay: how late its 10 ms tick came, the tick itself taken off): delay p99 ${loops.map((l) => fmt(l.lagP99Ms, 1)).join(' / ')} ms, max ${loops.map((l) => fmt(l.lagMaxMs, 1)).join(' / ')} ms; GC ${loops.map((l) => fmt(l.gcMs, 0)).join(' / ')} ms per ${HALF_LOAD_SECONDS} s window.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  await shutdown();
}
process.exit(0);
