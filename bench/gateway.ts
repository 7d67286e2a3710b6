/**
 * Gateway benchmark: one script, one run.
 *
 *   apt-get update && apt-get install -y nginx wrk # once: the nginx comparison, the load generator
 *   pnpm exec tsx bench/gateway.ts                 # from the repository root
 *
 * Rate limits go to a private redis-server when one is installed, else to REDIS_URL.
 *
 * The same small GET (/v1/credits/balance, a real @imlab/http app) is measured four ways (and two references):
 *   direct  — the service itself;
 *   gateway — through gateway/src/main.ts: identity hashing, one Redis rate-limit decision, session
 *             cookie resolution (auth's answer reused in-process for SESSION_CACHE_TTL), proxying;
 *   nginx   — `limit_req` + `proxy_pass` (keepalive upstream) to the same service, 1 worker;
 *   floor   — reference only: bench/gateway-floor.ts, the gateway's Fastify server and undici
 *             dispatch path with none of its features (what Node's HTTP stack alone costs here);
 *   floor+redis — reference only: the floor plus the gateway's Redis rate-limit decision.
 * First each at saturation (wrk, else autocannon; fixed connections, as fast as possible) in
 * BENCH_ROUNDS interleaved rounds (this machine's speed drifts within minutes, so every round runs
 * every variant back to back; ratios are taken within a round, their median reported), then each at half
 * of the gateway's saturation throughput with an evenly paced open-loop client (after 5 s of the same
 * as warm-up), where the added p99
 * latency is read. Prints a markdown report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/**
 * The rate-limit Redis: a private redis-server started for the run when one is on PATH (the shared
 * development Redis also carries every other test's queues, whose Lua scripts stall it for
 * milliseconds), else REDIS_URL. BENCH_SHARED_REDIS=1 forces REDIS_URL.
 */
const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SATURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const HALF_LOAD_WARMUP_SECONDS = 5;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATH = '/v1/credits/balance';
const HEADERS = { cookie: 'imlab_sid=bench-session-token', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' };

const children: ChildProcess[] = [];
let nginxDir: string | undefined;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

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

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
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

/**
 * Open-loop load at an even pace: every millisecond the requests due by then are started, each
 * timed from when it was due (no coordinated omission). autocannon's rate mode fires all
 * connections in the same tick, so its latencies at a fixed rate measure those bursts, not the
 * proxy. The client speaks HTTP/1.1 on plain keep-alive sockets with one pre-built request: an
 * undici Pool here used twice the CPU and was itself the largest source of tail latency (direct
 * p99 89–233 ms against 3–4 ms with this client, same service, same rate).
 */
async function paced(url: string, seconds: number, rate: number): Promise<Run> {
  const { hostname, port, pathname } = new URL(url);
  const head = Object.entries(HEADERS)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const request = Buffer.from(`GET ${pathname} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${head}\r\n`, 'latin1');
  const samples: number[] = [];
  const idle: Socket[] = [];
  const due: number[] = [];
  const sockets = new Set<Socket>();

  const send = () => {
    while (due.length && idle.length) {
      const socket = idle.pop()!;
      dueAt.set(socket, due.shift()!);
      socket.write(request);
    }
  };
  const dueAt = new Map<Socket, number>();
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let buffer: Buffer = Buffer.alloc(0);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
      socket.on('close', () => {
        sockets.delete(socket);
        dueAt.delete(socket);
        const i = idle.indexOf(socket);
        if (i >= 0) idle.splice(i, 1);
      });
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headers = buffer.subarray(0, end).toString('latin1');
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
          if (!length) throw new Error(`${url}: the paced client needs answers with a content-length`);
          const total = end + 4 + Number(length[1]);
          if (buffer.length < total) return;
          buffer = buffer.subarray(total);
          if (headers.startsWith('HTTP/1.1 200')) samples.push(performance.now() - dueAt.get(socket)!);
          dueAt.delete(socket);
          idle.push(socket);
          send();
        }
      });
      sockets.add(socket);
    });

  for (let i = 0; i < 64; i++) idle.push(await open());
  const start = performance.now();
  const total = Math.floor(rate * seconds);
  let sent = 0;
  while (sent < total) {
    const now = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; sent < now; sent++) due.push(start + (sent / rate) * 1000);
    send();
    // Every connection busy: open another rather than let requests wait for one (open loop).
    if (due.length && !idle.length && sockets.size < 1024) idle.push(await open());
    await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = performance.now() + 30_000;
  while ((dueAt.size > 0 || due.length > 0) && performance.now() < deadline) {
    send();
    await new Promise((r) => setTimeout(r, 5));
  }
  const errors = total - samples.length; // refused, failed or never answered
  for (const socket of sockets) socket.destroy();
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? NaN;
  return { rps: samples.length / seconds, p50: pct(50), p99: pct(99), non2xx: errors };
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

async function main(): Promise<void> {
  const loadBefore = loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  const [servicePort, gatewayPort, nginxPort, redisPort, floorPort, floorRedisPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const service = `http://127.0.0.1:${servicePort}`;
  let redisUrl = SHARED_REDIS_URL;
  let redisNote = 'the shared development Redis';
  if (!process.env.BENCH_SHARED_REDIS && hasCommand('redis-server')) {
    start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    redisNote = 'a private redis-server';
    await new Promise((r) => setTimeout(r, 500));
  }
  startTs('bench/gateway-upstream.ts', [String(servicePort)]);
  startTs('bench/gateway-floor.ts', [String(floorPort), String(servicePort)]);
  startTs('bench/gateway-floor.ts', [String(floorRedisPort), String(servicePort), redisUrl]);
  startTs('gateway/src/main.ts', [], {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    GATEWAY_PORT: String(gatewayPort),
    REDIS_URL: redisUrl,
    RATE_LIMIT_PREFIX: `imlab:bench:${Date.now()}`,
    RATE_LIMIT_READ: '100000000/1m',
    RATE_LIMIT_NOT_FOUND: '100000000/1m',
    AUTH_URL: service,
    LEDGER_URL: service,
    GENERATION_URL: service,
    BILLING_URL: service,
    NOTIFICATION_URL: service,
  });
  nginxDir = mkdtempSync(join(tmpdir(), 'imlab-bench-nginx-'));
  writeFileSync(join(nginxDir, 'nginx.conf'), nginxConfig(nginxDir, nginxPort, servicePort));
  start('nginx', ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-g', 'daemon off;']);

  const targets = {
    direct: `${service}${PATH}`,
    gateway: `http://127.0.0.1:${gatewayPort}${PATH}`,
    nginx: `http://127.0.0.1:${nginxPort}${PATH}`,
    floor: `http://127.0.0.1:${floorPort}${PATH}`,
    'floor+redis': `http://127.0.0.1:${floorRedisPort}${PATH}`,
  };
  for (const url of Object.values(targets)) await waitFor(url);
  for (const url of Object.values(targets)) await load(url, 3); // warm-up: JIT, keep-alive pools

  const rounds: Record<string, Run>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round: Record<string, Run> = {};
    for (const [name, url] of Object.entries(targets)) round[name] = await load(url, SATURATION_SECONDS);
    rounds.push(round);
  }
  // Each variant's round with the median throughput stands for it in the table.
  const saturated: Record<string, Run> = Object.fromEntries(
    Object.keys(targets).map((n) => [n, [...rounds.map((r) => r[n]!)].sort((a, b) => a.rps - b.rps)[Math.floor(ROUNDS / 2)]!]),
  );
  /** Median over rounds of a / b, both measured in the same round. */
  const ratio = (a: string, b: string) => median(rounds.map((r) => r[a]!.rps / r[b]!.rps));
  const halfRate = Math.floor(saturated.gateway!.rps / 2);
  const half: Record<string, Run> = {};
  for (const [name, url] of Object.entries(targets)) {
    // Warm-up at the same pace first: right after a change of load pattern the gateway runs slow
    // for one to four seconds (re-optimisation), which would otherwise be most of its p99.
    await paced(url, HALF_LOAD_WARMUP_SECONDS, halfRate);
    half[name] = await paced(url, SATURATION_SECONDS, halfRate);
  }

  const s = saturated;
  const lines = [
    `Run: ${new Date().toISOString()}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? 'unknown'}), load average before the run ${loadBefore}, Node ${process.version}, rate limits in ${redisNote}, saturation load by ${LOADGEN}, ${CONNECTIONS} connections, ${SATURATION_SECONDS} s per run; load generator, service, gateway, Redis and nginx on the same machine.`,
    '',
    `| variant | saturation req/s (median of ${ROUNDS}) | every round | p50 ms | p99 ms | errors | at half load (${halfRate} req/s): p50 ms | p99 ms |`,
    '|---|---:|---|---:|---:|---:|---:|---:|',
    ...Object.keys(targets).map(
      (n) =>
        `| ${n} | ${fmt(s[n]!.rps, 0)} | ${rounds.map((r) => fmt(r[n]!.rps, 0)).join(' / ')} | ${fmt(s[n]!.p50)} | ${fmt(s[n]!.p99)} | ${rounds.reduce((a, r) => a + r[n]!.non2xx, 0) + half[n]!.non2xx} | ${fmt(half[n]!.p50)} | ${fmt(half[n]!.p99)} |`,
    ),
    '',
    `Throughput ratios, each the median over rounds of the ratio within a round:`,
    `- gateway / nginx: ${fmt(ratio('gateway', 'nginx'))} (target ≥ 0.50); every round: ${rounds.map((r) => fmt(r.gateway!.rps / r.nginx!.rps)).join(' / ')}`,
    `- gateway / direct: ${fmt(ratio('gateway', 'direct'))}; nginx / direct: ${fmt(ratio('nginx', 'direct'))}`,
    `- floor (Node proxy without the gateway's features) / nginx: ${fmt(ratio('floor', 'nginx'))}; gateway / floor: ${fmt(ratio('gateway', 'floor'))}`,
    `- floor+redis (the floor plus the gateway's Redis rate-limit decision) / nginx: ${fmt(ratio('floor+redis', 'nginx'))}; gateway / floor+redis: ${fmt(ratio('gateway', 'floor+redis'))}`,
    `- half load: evenly paced open-loop requests after ${HALF_LOAD_WARMUP_SECONDS} s of the same, latency counted from each request's due time`,
    `- p99 added by the gateway over direct at half load: ${fmt(half.gateway!.p99 - half.direct!.p99)} ms (target ≤ 2 ms); by nginx: ${fmt(half.nginx!.p99 - half.direct!.p99)} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  await shutdown();
}
process.exit(0);
