/**
 * What the benches share: CPU accounting from /proc, `pgbench -N` as the reference measured in the
 * same run, and the credits-ledger service started as a real process.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ServiceContext } from '@imlab/service';
import type { DB as LedgerDB } from '../../services/credits-ledger/src/db.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HZ = 100;

/** CPU seconds (user + system) of one process, 0 when it is gone. */
export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / HZ;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by each `postgres` process on this machine, and by the whole machine (non-idle). */
export function cpuNow(): { postgres: Map<number, number>; machine: number; at: number } {
  const postgres = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const f = stat.slice(close + 2).split(' ');
      postgres.set(Number(pid), (Number(f[11]) + Number(f[12])) / HZ);
    } catch {
      // the process ended between readdir and read
    }
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + cpu[4]!;
  return { postgres, machine: (cpu.reduce((a, b) => a + b, 0) - idle) / HZ, at: Date.now() };
}

export interface Cpu {
  /** Cores busy on average: all postgres processes, the backends serving the benchmark, its client processes, the machine. */
  postgres: number;
  backends: number;
  client: number;
  machine: number;
}

/** Per-process deltas (a backend that exits inside the window is left out rather than counted negative); `ours` are the benchmark's backends. */
export function cpuSince(start: ReturnType<typeof cpuNow>, clientSeconds: number, ours: Set<number>, end = cpuNow()): Cpu {
  const wall = (end.at - start.at) / 1000;
  let postgres = 0;
  let backends = 0;
  for (const [pid, s] of end.postgres) {
    const d = s - (start.postgres.get(pid) ?? 0);
    postgres += d;
    if (ours.has(pid)) backends += d;
  }
  return { postgres: postgres / wall, backends: backends / wall, client: clientSeconds / wall, machine: (end.machine - start.machine) / wall };
}

function connArgs(server: string): string[] {
  const u = new URL(server);
  return ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres')];
}

/** The pids of the backends connected to `database` (optionally only those with this application_name). */
export function backendPids(server: string, database: string, application?: string): Set<number> {
  const where = `datname = '${database}'${application ? ` and application_name = '${application}'` : ''}`;
  const out = execFileSync('psql', [...connArgs(server), '-Atc', `select pid from pg_stat_activity where ${where}`, 'postgres'], { encoding: 'utf8' });
  return new Set(out.split('\n').filter(Boolean).map(Number));
}

export interface PgbenchResult {
  rate: number;
  cpu: Cpu;
}

/** pgbench's database (scale 10), initialised once; `run` is one `pgbench -N` of `seconds` with `clients` clients. */
export function pgbenchDatabase(server: string, tag: string) {
  const db = `imlab_bench_pgbench_${tag}`;
  const conn = connArgs(server);
  execFileSync('createdb', [...conn, db]);
  execFileSync('pgbench', [...conn, '-i', '-q', '-s', '10', db], { stdio: ['ignore', 'ignore', 'ignore'] });
  execFileSync('psql', [...conn, '-q', '-c', 'vacuum analyze', db]);
  return {
    async run(clients: number, seconds: number): Promise<PgbenchResult> {
      // /usr/bin/time reports pgbench's own CPU (user + system seconds) on stderr. Postgres CPU is
      // sampled inside the run (its backends exit with pgbench).
      const run = spawn('/usr/bin/time', ['-f', 'cpu %U %S', 'pgbench', ...conn, '-N', '-c', String(clients), '-j', '2', '-T', String(seconds), db]);
      let stdout = '';
      let stderr = '';
      run.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      run.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise((r) => run.once('exit', r));
      await sleep(1500);
      const before = cpuNow();
      await sleep((seconds - 2) * 1000);
      const end = cpuNow();
      const ours = backendPids(server, db);
      await exited;
      const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
      if (!m) throw new Error(`cannot read pgbench output:\n${stdout}\n${stderr}`);
      const t = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      // pgbench's own CPU covers the whole run: averaged over it.
      const cpu = cpuSince(before, 0, ours, end);
      return { rate: Number(m[1]), cpu: { ...cpu, client: t ? (Number(t[1]) + Number(t[2])) / seconds : 0 } };
    },
    drop: () => execFileSync('dropdb', [...conn, '--if-exists', '--force', db]),
  };
}

/**
 * The credits-ledger service (src/main.ts) as its own process, node with tsx's loader in it (no
 * wrapper process, so a signal reaches the service itself), ready when this resolves.
 */
export async function startLedgerService(opts: { server: string; redis: string; databaseName: string; prefix: string; env?: Record<string, string | undefined> }): Promise<{
  process: ChildProcess;
  port: number;
  stop(): Promise<void>;
}> {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = Object.fromEntries(Object.entries(opts.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
  const child = spawn(process.execPath, ['--import', tsxLoader, path.join(repo, 'services/credits-ledger/src/main.ts')], {
    cwd: path.join(repo, 'services/credits-ledger'),
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      METRICS_PORT: '0',
      DATABASE_URL: opts.server,
      REDIS_URL: opts.redis,
      DATABASE_NAME: opts.databaseName,
      QUEUE_PREFIX: opts.prefix,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok).catch(() => false)) break;
    if (i > 600 || child.exitCode !== null) {
      await stop();
      throw new Error('ledger service did not become ready');
    }
    await sleep(100);
  }
  return { process: child, port, stop };
}

/**
 * `commands` `ledger.grant` commands (1 credit each, to `users` in turn), each committed to the
 * ledger's outbox in its own transaction as a service's request would, from `clients` concurrent writers.
 */
export async function writeGrants(ctx: ServiceContext<LedgerDB>, users: string[], commands: number, clients: number, reference: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < commands) {
        const i = next++;
        await ctx.db.transaction().execute((tx) => ctx.bus.send(tx, 'ledger.grant', { idempotencyKey: randomUUID(), userId: users[i % users.length]!, amount: 1, source: 'purchase', reference }));
      }
    }),
  );
}
