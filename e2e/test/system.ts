// Starts the real system for end-to-end tests: every service, a render worker and the gateway as
// separate Node processes (exactly the entry points the start script runs; its migrate step when
// asked, otherwise the processes migrate as they start), each on its own database and a queue prefix
// of this test file, with every line they log kept for inspection.
import type { startFakeStripe } from '../../services/billing/test/support/fake-stripe.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, freePort, infra, testPrefix, TS_NODE_ARGS } from '@imlab/testing';
import type { Browser } from './browser.js';
import type { ContractChecker } from './contract.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export const WEBHOOK_SECRET = 'whsec_e2e_0123456789abcdef';

/** What the suites share: one running system (started once: seven processes are not cheap). */
type FakeStripe = Awaited<ReturnType<typeof startFakeStripe>>;

export interface E2E {
  sys: System;
  stripe: Pick<FakeStripe, 'sessions' | 'base' | 'close' | 'putBalanceTransaction' | 'putPayout'>;
  browser(ip?: string): Browser;
  /** The gateway's API document, which every answer a browser gets is checked against. */
  contract: ContractChecker;
}

export interface SystemProcess {
  name: string;
  entry: string;
  env: Record<string, string>;
  child?: ChildProcess;
}

export interface System {
  gatewayUrl: string;
  /** Each process's internal /metrics listener, by process name. */
  metricsUrls: Record<string, string>;
  /** Each service's public address, by process name. */
  serviceUrls: Record<string, string>;
  env: Record<string, string>;
  dataDir: string;
  prefix: string;
  rateLimitPrefix: string;
  logs: string[];
  databases: Record<string, string>;
  start(name: string): Promise<void>;
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

async function waitFor(url: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready at ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface StartOptions {
  /**
   * The gateway's own address is the product's public address (PUBLIC_BASE_URL: the links in
   * emails, Stripe's return pages) and an allowed origin: what a real browser on the served web
   * app needs. Otherwise the product lives at http://app.imagemakerlab.test.
   */
  selfOrigin?: boolean;
  /**
   * Run each service's migrate command before its processes, as the start script does. Otherwise
   * the processes migrate their databases themselves as they start (as every service does outside
   * production), which spares five Node processes per system.
   */
  migrateCommands?: boolean;
}

export async function startSystem(label: string, extraEnv: Record<string, string> = {}, options: StartOptions = {}): Promise<System> {
  const { databaseUrl, redisUrl } = infra();
  const dataDir = mkdtempSync(path.join(tmpdir(), `imlab-e2e-${label}-`));
  const prefix = testPrefix(label);
  const rateLimitPrefix = `${prefix}:gw`;
  const ports = { gateway: await freePort(), auth: await freePort(), ledger: await freePort(), generation: await freePort(), billing: await freePort(), notification: await freePort(), worker: await freePort(), gatewayMetrics: await freePort() };
  // every process's /metrics listener on a port of its own (they share this host)
  const metricsPorts: Record<string, number> = {};
  for (const name of ['auth', 'credits-ledger', 'generation', 'render-worker', 'billing', 'notification', 'gateway']) metricsPorts[name] = name === 'gateway' ? ports.gatewayMetrics : await freePort();
  const databases: Record<string, string> = {};
  for (const s of ['auth', 'ledger', 'generation', 'billing', 'notification']) databases[s] = (await createTestDatabase(`${label}_${s}`)).name;
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PUBLIC_BASE_URL: options.selfOrigin ? local(ports.gateway) : 'http://app.imagemakerlab.test',
    AUTH_JWKS_URL: `${local(ports.auth)}/.well-known/jwks.json`,
    INTERNAL_API_TOKEN: 'e2e-internal-token-0123456789',
    MESSAGE_SEAL_KEY: 'e2e-message-seal-key-0123456789',
    AUTH_URL: local(ports.auth),
    LEDGER_URL: local(ports.ledger),
    GENERATION_URL: local(ports.generation),
    BILLING_URL: local(ports.billing),
    NOTIFICATION_URL: local(ports.notification),
    GATEWAY_PORT: String(ports.gateway),
    RATE_LIMIT_PREFIX: rateLimitPrefix,
    // Seven services and a worker share two cores here: a Redis answer slower than the 250 ms
    // production budget would turn a sign-up into the Redis-down 503.
    RATE_LIMIT_REDIS_TIMEOUT_MS: '2000',
    CORS_ORIGINS: options.selfOrigin ? `http://app.imagemakerlab.test,${local(ports.gateway)}` : 'http://app.imagemakerlab.test',
    IP_HASH_SECRET: 'e2e-ip-hash-secret-0123456789',
    SIGNUP_BONUS_CREDITS: '40',
    MAILBOX_DIR: path.join(dataDir, 'mailbox'),
    STORAGE_DIR: path.join(dataDir, 'images'),
    EXPORT_DIR: path.join(dataDir, 'exports'),
    AUTH_KEYS_FILE: path.join(dataDir, 'auth-keys.json'),
    WORKER_PORT: String(ports.worker),
    // seven processes share the test server's connections with the other test files
    DB_POOL_SIZE: '3',
    EMAIL_CONCURRENCY: '1',
    INBOX_CONCURRENCY: '4',
    RENDER_CONCURRENCY: '1',
    ...extraEnv,
  };
  const procs: SystemProcess[] = [
    { name: 'auth', entry: 'services/auth/src/main.ts', env: { METRICS_PORT: String(metricsPorts['auth']), PORT: String(ports.auth), DATABASE_NAME: databases.auth! } },
    { name: 'credits-ledger', entry: 'services/credits-ledger/src/main.ts', env: { METRICS_PORT: String(metricsPorts['credits-ledger']), PORT: String(ports.ledger), DATABASE_NAME: databases.ledger! } },
    { name: 'generation', entry: 'services/generation/src/main.ts', env: { METRICS_PORT: String(metricsPorts['generation']), PORT: String(ports.generation), DATABASE_NAME: databases.generation! } },
    { name: 'render-worker', entry: 'services/generation/src/worker.ts', env: { WORKER_METRICS_PORT: String(metricsPorts['render-worker']), DATABASE_NAME: databases.generation! } },
    { name: 'billing', entry: 'services/billing/src/main.ts', env: { METRICS_PORT: String(metricsPorts['billing']), PORT: String(ports.billing), DATABASE_NAME: databases.billing! } },
    { name: 'notification', entry: 'services/notification/src/main.ts', env: { METRICS_PORT: String(metricsPorts['notification']), PORT: String(ports.notification), DATABASE_NAME: databases.notification! } },
    { name: 'gateway', entry: 'gateway/src/main.ts', env: { METRICS_PORT: String(metricsPorts.gateway) } },
  ];
  const health: Record<string, string> = {
    auth: `${local(ports.auth)}/readyz`,
    'credits-ledger': `${local(ports.ledger)}/readyz`,
    generation: `${local(ports.generation)}/readyz`,
    'render-worker': `${local(ports.worker)}/readyz`,
    billing: `${local(ports.billing)}/readyz`,
    notification: `${local(ports.notification)}/readyz`,
    gateway: `${local(ports.gateway)}/readyz`,
  };
  const logs: string[] = [];

  const system: System = {
    gatewayUrl: local(ports.gateway),
    metricsUrls: Object.fromEntries(Object.entries(metricsPorts).map(([name, port]) => [name, `${local(port)}/metrics`])),
    serviceUrls: { auth: local(ports.auth), 'credits-ledger': local(ports.ledger), generation: local(ports.generation), 'render-worker': local(ports.worker), billing: local(ports.billing), notification: local(ports.notification), gateway: local(ports.gateway) },
    env,
    dataDir,
    prefix,
    rateLimitPrefix,
    logs,
    databases,
    async start(name) {
      const p = procs.find((x) => x.name === name)!;
      const child = spawn(process.execPath, [...TS_NODE_ARGS, p.entry], { cwd: root, env: { ...env, ...p.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => logs.push(String(d)));
      child.stderr!.on('data', (d) => logs.push(String(d)));
      p.child = child;
      await waitFor(health[name]!, 180_000, name);
    },
    async kill(name, signal = 'SIGKILL') {
      const p = procs.find((x) => x.name === name)!;
      const child = p.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
    async stop() {
      await Promise.all(procs.map((p) => system.kill(p.name, 'SIGTERM')));
    },
  };
  // each service's migrate command first (the start script's step), the five side by side: each has a database of its own
  if (options.migrateCommands) await Promise.all(
    procs
      .filter((x) => x.name !== 'gateway' && x.name !== 'render-worker')
      .map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, [...TS_NODE_ARGS, p.entry.replace('main.ts', 'migrate.ts')], { cwd: root, env: { ...env, ...p.env }, stdio: ['ignore', 'pipe', 'pipe'] });
            child.stdout.on('data', (d) => logs.push(String(d)));
            child.stderr.on('data', (d) => logs.push(String(d)));
            child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${p.name} migrate exited ${code}: ${logs.slice(-3).join('')}`))));
          }),
      ),
  );
  await Promise.all(procs.map((p) => system.start(p.name)));
  return system;
}

/** Every text-like column of every table of one service's database, with its rows' values. */
/** The roles CLI of auth, as an operator runs it, against this system's auth database; a new sign-in then carries the roles. */
export async function grantRoles(sys: System, email: string, roles: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, 'services/auth/src/cli/roles.ts', email, ...roles], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...sys.env, DATABASE_NAME: sys.databases.auth! },
      stdio: 'ignore',
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`roles CLI exited ${code}`))));
  });
}

export async function scanDatabase(databaseName: string, needles: string[], skipTables: string[] = []): Promise<string[]> {
  const pg = (await import('pg')).default;
  const u = new URL(infra().databaseUrl);
  u.pathname = `/${databaseName}`;
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  const hits: string[] = [];
  try {
    const cols = await client.query<{ table_name: string; column_name: string }>(
      `select c.table_name, c.column_name from information_schema.columns c
         join information_schema.tables t on t.table_name = c.table_name and t.table_schema = c.table_schema
        where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
          and c.data_type in ('text', 'character varying', 'jsonb', 'json', 'inet', 'uuid', 'ARRAY', 'bytea')`,
    );
    for (const { table_name, column_name } of cols.rows) {
      if (skipTables.includes(table_name)) continue;
      for (const needle of needles) {
        const r = await client.query(`select 1 from "${table_name}" where position($1 in "${column_name}"::text) > 0 limit 1`, [needle]);
        if (r.rowCount) hits.push(`${databaseName}.${table_name}.${column_name} contains ${needle}`);
      }
    }
  } finally {
    await client.end();
  }
  return hits;
}

/** Rows of one query against one service's database. */
export async function queryDb(sys: System, db: string, text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
  const pg = (await import('pg')).default;
  const u = new URL(infra().databaseUrl);
  u.pathname = `/${sys.databases[db]!}`;
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}
