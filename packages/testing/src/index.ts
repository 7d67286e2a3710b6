import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDatabase, dropDatabase } from '@imlab/db';

export { removeTestRun } from './cleanup.js';

export function infra(): { databaseUrl: string; redisUrl: string; runId: string } {
  return {
    databaseUrl: process.env.DATABASE_URL ?? inject('databaseUrl'),
    redisUrl: process.env.REDIS_URL ?? inject('redisUrl'),
    runId: process.env.IMLAB_TEST_RUN ?? inject('runId'),
  };
}

function label(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 20);
}

/** A fresh database of its own for one test file, on the test Postgres server; dropped after the run. */
export async function createTestDatabase(name: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const { databaseUrl, runId } = infra();
  const db = `imlabt_${runId}_${label(name)}_${randomBytes(3).toString('hex')}`;
  const u = new URL(databaseUrl);
  u.pathname = `/${db}`;
  const url = u.toString();
  await ensureDatabase(url);
  return { name: db, url, drop: () => dropDatabase(url) };
}

/** A queue prefix of its own (a hash tag, removed after the run). */
export function testPrefix(name: string): string {
  const { runId } = infra();
  return `{imlabt_${runId}_${label(name)}_${randomBytes(3).toString('hex')}}`;
}

/** A pino destination that keeps every line, to assert what logs never contain. */
export function captureLogs(): { stream: Writable; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { stream, lines, text: () => lines.join('') };
}

/** Ports this process has handed out (a port is handed out once). */
const handedOut = new Set<number>();
/** Each test worker picks from its own slice below the kernel's ephemeral range (32768+ here). */
const PORT_SLICE = 1000;
const PORT_BASE = 12_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port for a child process to listen on. Not one the OS hands out for `listen(0)` or outgoing
 * connections (those come from the ephemeral range, and other test files open hundreds while a
 * child is still starting), and not one another test worker can pick: each worker has its own
 * slice. Checked free when picked; falls back to an OS-assigned port if the slice is crowded.
 */
export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0) % 16;
  const base = PORT_BASE + worker * PORT_SLICE;
  for (let tries = 0; tries < 50; tries++) {
    const port = base + Math.floor(Math.random() * PORT_SLICE);
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
export * from './jwt-issuer.js';
export * from './fakes/oidc.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
/**
 * How tests start a process from TypeScript sources: Node strips the types itself, and
 * scripts/ts-resolve.mjs maps `./x.js` imports to `./x.ts` and turns on V8's compile cache. The
 * process started is the one that runs (no loader process in between): a SIGKILL reaches it.
 */
export const TS_NODE_ARGS: readonly string[] = ['--import', path.join(repoRoot, 'scripts', 'ts-resolve.mjs')];
