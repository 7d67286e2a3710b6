import { isSealed, unseal } from '@imlab/queue';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@imlab/logger';
import { contextFromConfig, type ServiceContext } from '@imlab/service';
import { captureLogs, createTestDatabase, infra, testPrefix } from '@imlab/testing';
import type { App } from '@imlab/http';
import { build } from '../src/app.js';
import { loadAuthConfig, type Config } from '../src/config.js';
import type { DB } from '../src/db.js';
import { generateSigningJwk } from '../src/keys/keys.js';

export const INTERNAL_TOKEN = 'test-internal-token-0123456789';
export const PUBLIC_BASE_URL = 'https://app.imlab.test';

export interface TestAuth {
  app: App;
  url: string;
  config: Config;
  ctx: ServiceContext<DB>;
  logs: ReturnType<typeof captureLogs>;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A real auth app on a real port, with its own database, queue prefix and signing key. */
export async function startAuth(label: string, env: Record<string, string> = {}): Promise<TestAuth> {
  const { redisUrl, databaseUrl } = infra();
  const database = await createTestDatabase(label);
  const fullEnv: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    DATABASE_URL: databaseUrl,
    DATABASE_NAME: database.name,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: testPrefix(label),
    PUBLIC_BASE_URL,
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    AUTH_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]),
    EXPORT_DIR: await mkdtemp(join(tmpdir(), 'imlab-auth-export-')),
    SIGNUP_BONUS_CREDITS: '50',
    ...env,
  };
  const config = loadAuthConfig(fullEnv);
  const logs = captureLogs();
  const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL, destination: logs.stream });
  const ctx = await contextFromConfig<DB>('auth', config, logger, new URL('../migrations', import.meta.url), { migrate: true, poolSize: 3 });
  const app = await build({ config, logger, ctx });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const handle: TestAuth = {
    app,
    url: `http://127.0.0.1:${port}`,
    config,
    ctx,
    logs,
    env: fullEnv,
    async close() {
      await handle.app.close(); // tests may swap the app (key rotation)
      await ctx.close();
      await rm(fullEnv.EXPORT_DIR!, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  /** Set-Cookie lines, raw */
  setCookies: string[];
  /** name → value of cookies set (empty value = cleared) */
  cookies: Record<string, string>;
}

export async function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; cookies?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.cookies) headers.cookie = Object.entries(opts.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), redirect: 'manual' });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  const setCookies = res.headers.getSetCookie();
  const cookies: Record<string, string> = {};
  for (const line of setCookies) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    cookies[pair!.slice(0, eq)] = decodeURIComponent(pair!.slice(eq + 1));
  }
  return { status: res.status, headers: res.headers, body, text, setCookies, cookies };
}

/** Waits for the work auth does after answering (sign-up, resend and forgot mails). */
export async function settle(t: TestAuth): Promise<void> {
  await t.app.auth.deps.background.drain();
}

/** `email.send` payloads exactly as stored in the outbox and published to Redis. */
export async function rawEmailPayloads(t: TestAuth): Promise<string[]> {
  await settle(t);
  const rows = await t.ctx.db.selectFrom('outbox').select('payload').where('name', '=', 'email.send').execute();
  return rows.map((r) => JSON.stringify(r.payload));
}

/** Emails queued for notification (`email.send` rows of the outbox), newest last. */
export async function sentEmails(t: TestAuth, to?: string): Promise<{ template: string; to: string; data: Record<string, unknown>; idempotencyKey: string }[]> {
  await settle(t);
  const rows = await t.ctx.db.selectFrom('outbox').select(['payload', 'name']).where('name', '=', 'email.send').orderBy('id').execute();
  const mails = rows.map((r) => r.payload as { template: string; to: string; data: Record<string, unknown>; idempotencyKey: string });
  // link tokens travel sealed; open them as notification does
  // addresses and link tokens travel sealed; open them as notification does
  const opened = mails.map((m) => ({
    ...m,
    to: isSealed(m.to) ? unseal(m.to, t.config.MESSAGE_SEAL_KEY) : m.to,
    data: Object.fromEntries(Object.entries(m.data).map(([k, v]) => [k, isSealed(v) ? unseal(v, t.config.MESSAGE_SEAL_KEY) : v])),
  }));
  return to ? opened.filter((m) => m.to === to) : opened;
}

export async function outboxMessages(t: TestAuth, name: string): Promise<Record<string, unknown>[]> {
  await settle(t);
  const rows = await t.ctx.db.selectFrom('outbox').select('payload').where('name', '=', name).orderBy('id').execute();
  // the person's address travels sealed (user.registered, user.updated); opened as notification does
  return rows.map((r) => {
    const p = r.payload as Record<string, unknown>;
    return isSealed(p.email) ? { ...p, email: unseal(p.email, t.config.MESSAGE_SEAL_KEY) } : p;
  });
}

/** The token in the last link mailed to `to` with `template`. */
export async function lastLinkToken(t: TestAuth, to: string, template: string): Promise<string> {
  const mail = (await sentEmails(t, to)).filter((m) => m.template === template).at(-1);
  if (!mail) throw new Error(`no ${template} email to ${to}`);
  return new URL(String(mail.data.link)).searchParams.get('token')!;
}

let ipCounter = 0;
/** A distinct, well-formed IP hash (as the gateway would send). */
export function ipHash(): string {
  ipCounter += 1;
  return `${process.pid.toString(16).padStart(8, '0')}${Date.now().toString(16).padStart(16, '0')}${ipCounter.toString(16).padStart(40, '0')}`.slice(0, 64);
}

/** Signs up, verifies through the mailed link, and logs in; returns the session cookie value. */
export async function signedInUser(t: TestAuth, email: string, password = 'correct horse battery staple', headers: Record<string, string> = {}): Promise<{ sid: string; userId: string }> {
  const s = await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password }, headers: { 'x-imlab-ip-hash': ipHash(), ...headers } });
  if (s.status !== 202) throw new Error(`signup ${s.status} ${s.text}`);
  const v = await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: await lastLinkToken(t, email, 'verify-email') } });
  if (v.status !== 200) throw new Error(`verify ${v.status} ${v.text}`);
  const l = await call(t.url, 'POST', '/v1/auth/login', { body: { email, password }, headers });
  if (l.status !== 200) throw new Error(`login ${l.status} ${l.text}`);
  return { sid: l.cookies.imlab_sid!, userId: l.body.id };
}

/** What the gateway does: resolve the cookie to an internal JWT and send it as a bearer. */
export async function bearer(t: TestAuth, sid: string, audience = 'auth'): Promise<Record<string, string>> {
  const r = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
  if (r.status !== 200) throw new Error(`resolve ${r.status} ${r.text}`);
  return { authorization: `Bearer ${r.body.token}` };
}
