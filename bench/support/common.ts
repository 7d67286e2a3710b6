/**
 * What the benches share: settings, percentiles, a free port, the machine's state, the generation
 * service's database and context, and writing one section of docs/benchmarks.md between its
 * markers while keeping the hand-written notes below the generated part across runs.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { createServiceContext, type ServiceContext } from '@imlab/service';
import type { QueueTables } from '@imlab/queue';
import type { DB as GenerationDB } from '../../services/generation/src/db.js';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A service's own database (migrated when `migrate`) with its pool and bus, for benches that drive the service's code directly. */
export function serviceContext<DB extends QueueTables>(service: string, databaseName: string, queuePrefix: string, poolSize: number, migrate = true): Promise<ServiceContext<DB>> {
  return createServiceContext<DB>({
    service,
    logger: createLogger({ service: `bench-${service}`, level: 'warn' }),
    databaseUrl: SERVER,
    databaseName,
    redisUrl: REDIS,
    queuePrefix,
    migrationsFolder: path.join(repo, 'services', service, 'migrations'),
    migrate,
    poolSize,
  });
}

/** The generation service's own database (created and migrated) with its pool and bus. */
export const generationContext = (databaseName: string, queuePrefix: string, poolSize: number) => serviceContext<GenerationDB>('generation', databaseName, queuePrefix, poolSize);

/** A port nobody listens on right now (for a child process to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until the process on `port` answers /readyz (30 s at most); fails at once if `child` exits. */
export async function waitReady(port: number, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child && child.exitCode !== null) throw new Error(`the process on ${port} exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok).catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`the process on ${port} never became ready`);
}

/** The p-th percentile (nearest rank) of `xs`. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : NaN;
}

export const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** 1-minute load average and core count, for the "machine" line of each section. */
export function machine(): { load: number; cores: number } {
  return { load: loadavg()[0]!, cores: cpus().length };
}

/**
 * Replaces the section between `<!-- name:start -->` and `<!-- name:end -->` (appends it when
 * missing). Whatever follows `<!-- name:notes -->` in the current file is kept: the analysis is
 * written by hand, the tables by the bench.
 */
export async function writeSection(name: string, generated: string): Promise<string> {
  const file = path.join(repo, 'docs/benchmarks.md');
  const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const start = `<!-- ${name}:start -->`;
  const notesMark = `<!-- ${name}:notes -->`;
  const end = `<!-- ${name}:end -->`;
  const whole = new RegExp(`${start}[\\s\\S]*${end}`);
  const notes = new RegExp(`${notesMark}([\\s\\S]*)${end}`).exec(current)?.[1] ?? '\n';
  const section = `${start}\n${generated.trim()}\n${notesMark}${notes}${end}`;
  const next = whole.test(current) ? current.replace(whole, () => section) : `${current.trimEnd()}\n\n${section}\n`;
  await writeFile(file, next);
  return file;
}

/** CPU seconds (user + system) used so far by each process, from /proc/<pid>/stat; the machine's non-idle CPU seconds. */
export function cpuSnapshot(): { byPid: Map<number, { name: string; s: number }>; machine: number; at: number } {
  const hz = 100;
  const byPid = new Map<number, { name: string; s: number }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      byPid.set(Number(pid), { name: stat.slice(stat.indexOf('(') + 1, close), s: (Number(f[11]) + Number(f[12])) / hz });
    } catch {
      // the process ended between readdir and read
    }
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + cpu[4]!;
  return { byPid, machine: (cpu.reduce((a, b) => a + b, 0) - idle) / hz, at: Date.now() };
}

/** CPU seconds between two snapshots: of the given pids, of every process named `postgres` / `redis-server`, and of the machine. */
export function cpuBetween(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>, pids: number[]) {
  const delta = (pid: number) => Math.max(0, (b.byPid.get(pid)?.s ?? 0) - (a.byPid.get(pid)?.s ?? b.byPid.get(pid)?.s ?? 0));
  let postgres = 0;
  let redis = 0;
  for (const [pid, p] of b.byPid) {
    if (p.name === 'postgres') postgres += delta(pid);
    if (p.name === 'redis-server') redis += delta(pid);
  }
  return { pids: pids.reduce((s, pid) => s + delta(pid), 0), postgres, redis, machine: b.machine - a.machine, wallS: (b.at - a.at) / 1000 };
}
