import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { contextFromConfig, type ServiceContext } from '@imlab/service';
import { createTestDatabase, eventually, freePort, infra, startTestIssuer, testPrefix, TS_NODE_ARGS } from '@imlab/testing';
import type { App } from '@imlab/http';
import { loadGenerationConfig, type Config } from '../../src/config.js';
import { build, startConsumers } from '../../src/app.js';
import { startRenderWorker, type RenderWorker } from '../../src/render/render.worker.js';
import type { DB } from '../../src/db.js';
import { FakeLedger } from './fake-ledger.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// The worker runs in the process started (TS_NODE_ARGS: no loader process in between): the crash
// tests' SIGKILL reaches the real worker.

// Responses are asserted field by field in the tests; a loose type keeps them readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = any;

export interface Harness {
  url: string;
  env: Record<string, string>;
  config: Config;
  ctx: ServiceContext<DB>;
  app: App;
  ledger: FakeLedger;
  storageDir: string;
  token(userId: string, audience?: string): Promise<string>;
  /** The stand-in for auth's keys: user tokens and service tokens (auth's calls to /internal/*). */
  issuer: Awaited<ReturnType<typeof startTestIssuer>>;
  api(method: string, path: string, opts?: { user?: string; body?: unknown; raw?: Buffer; contentType?: string; headers?: Record<string, string> }): Promise<{ status: number; body: Body; headers: Headers }>;
  waitFor(userId: string, id: string, statuses: string[], timeoutMs?: number): Promise<Body>;
  startWorker(env?: Record<string, string>): Promise<RenderWorker>;
  spawnWorker(env?: Record<string, string>): Promise<SpawnedWorker>;
  /** Kills every spawned worker still running (a failed test must not leave one taking the next test's jobs). */
  killSpawned(): Promise<void>;
  close(): Promise<void>;
}

export interface SpawnedWorker {
  child: ChildProcess;
  port: number;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The real API (HTTP on a free port), its inbox consumers and relay, a fake ledger, and workers on demand. */
export async function startHarness(label: string, extraEnv: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase(label);
  const prefix = testPrefix(label);
  const issuer = await startTestIssuer();
  const storageDir = await mkdtemp(path.join(tmpdir(), 'imlab-gen-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: infra().databaseUrl,
    DATABASE_NAME: db.name,
    REDIS_URL: infra().redisUrl,
    QUEUE_PREFIX: prefix,
    AUTH_JWKS_URL: issuer.jwksUrl,
    STORAGE_DIR: storageDir,
    RESERVE_WAIT_MS: '5000',
    RENDER_LOCK_MS: '2000',
    RENDER_STALLED_INTERVAL_MS: '1000',
    ...extraEnv,
  };
  const config = loadGenerationConfig(env);
  const logger = createLogger({ service: 'generation', level: 'silent' });
  const ctx = await contextFromConfig<DB>('generation', config, logger, new URL('../../migrations', import.meta.url), { migrate: true, poolSize: 4 });
  const app = await build({ config, logger, ctx });
  startConsumers(app, ctx);
  await ctx.bus.startRelay();
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const ledger = await FakeLedger.start(prefix);
  const workers: { close(): Promise<unknown> }[] = [];
  const spawned: SpawnedWorker[] = [];

  const token = (userId: string, audience = 'generation') => issuer.sign({ sub: userId, aud: audience });
  const h: Harness = {
    url: address,
    env,
    config,
    ctx,
    app,
    ledger,
    storageDir,
    token,
    issuer,
    async api(method, p, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.user) headers.authorization = `Bearer ${await token(opts.user)}`;
      let body: Uint8Array | string | undefined;
      if (opts.raw) {
        body = new Uint8Array(opts.raw);
        headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      } else if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(`${address}${p}`, { method, headers, ...(body ? { body } : {}) });
      const type = res.headers.get('content-type') ?? '';
      const parsed = type.includes('json') ? await res.json() : type.startsWith('image/') ? Buffer.from(await res.arrayBuffer()) : await res.text();
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async waitFor(userId, id, statuses, timeoutMs = 20_000) {
      return eventually(async () => {
        const r = await h.api('GET', `/v1/generations/${id}`, { user: userId });
        return statuses.includes(r.body.status) ? r.body : undefined;
      }, timeoutMs);
    },
    async startWorker(workerEnv = {}) {
      const wconfig = loadGenerationConfig({ ...env, ...workerEnv });
      const wctx = await contextFromConfig<DB>('generation-worker', wconfig, logger, new URL('../../migrations', import.meta.url), { migrate: false, poolSize: 4 });
      const w = await startRenderWorker({ config: wconfig, logger, ctx: wctx });
      await wctx.bus.startRelay();
      workers.push({ close: async () => (await w.app.close(), await wctx.close()) });
      return w;
    },
    async spawnWorker(workerEnv = {}) {
      const port = await freePort();
      const child = spawn(process.execPath, [...TS_NODE_ARGS, path.join(root, 'src/worker.ts')], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'warn', WORKER_PORT: String(port), WORKER_METRICS_PORT: '0', ...workerEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const w: SpawnedWorker = {
        child,
        port,
        output: () => out,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          child.kill(signal);
          return exited;
        },
      };
      spawned.push(w);
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`worker exited: ${out}`);
        const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return r?.ok;
      }, 30_000, 100);
      return w;
    },
    async killSpawned() {
      for (const w of spawned.splice(0)) await w.stop('SIGKILL');
    },
    async close() {
      await h.killSpawned();
      for (const w of workers) await w.close();
      await app.close();
      await ctx.close();
      await ledger.close();
      await issuer.close();
      await rm(storageDir, { recursive: true, force: true, maxRetries: 5 }).catch(() => {});
    },
  };
  return h;
}
