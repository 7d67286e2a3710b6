// A person's browser against the gateway: a cookie jar, same-site Origin and Fetch-Metadata
// headers, and a distinctive client identity (source address and user agent) that must never
// show up in any log line, Redis key or value, or table of the system.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { expect } from 'vitest';
import { eventually } from '@imlab/testing';
import type { System } from './system.js';

export const CLIENT_IP = '127.0.0.77';
/** Each suite browses from its own loopback address (the sign-up bonus is once per IP hash). */
export const CLIENT_IPS = { journey: CLIENT_IP, billing: '127.0.0.78', privacy: '127.0.0.79' } as const;
export const CLIENT_UA = 'E2eDistinctBrowser/7.7 (journey-ua-marker)';
export const ORIGIN = 'http://app.imagemakerlab.test';
export const PASSWORD = 'a quiet workshop 2026';

const agents = new Map<string, Agent>();
export function agentFor(ip: string): Agent {
  let a = agents.get(ip);
  if (!a) {
    a = new Agent({ localAddress: ip });
    agents.set(ip, a);
  }
  return a;
}
export const agent = agentFor(CLIENT_IP);

export interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
  bytes: Buffer;
}

/** Every cookie name and session token any browser was given, for the leak checks. */
export const issued = { cookieNames: new Set<string>(), sessionTokens: new Set<string>() };

export class Browser {
  cookies = new Map<string, string>();
  /** `sys` is read at call time: suites build browsers before the system has started. */
  constructor(
    private readonly system: () => System,
    private readonly ip: string = CLIENT_IP,
  ) {}

  async call(method: string, url: string, body?: unknown): Promise<Res> {
    const headers: Record<string, string> = { 'user-agent': CLIENT_UA, origin: ORIGIN, 'sec-fetch-site': 'same-site' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await undiciFetch(`${this.system().gatewayUrl}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), dispatcher: agentFor(this.ip) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      issued.cookieNames.add(k!);
      if (k === 'imlab_sid' && v) issued.sessionTokens.add(v);
      if (v) this.cookies.set(k!, v);
      else this.cookies.delete(k!);
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = bytes.toString('utf8');
    try {
      parsed = JSON.parse(parsed as string);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers as unknown as Headers, bytes };
  }
}

/** The text of the newest `template` mail to `to` in the development mailbox, if any. */
export function mailText(sys: System, to: string, template: string): string | undefined {
  const dir = path.join(sys.dataDir, 'mailbox');
  const texts = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .filter((t) => t.includes(`To: ${to}`) && t.includes(`Template: ${template}`));
  return texts.at(-1);
}

/** The token of the newest `template` mail to `to` in the development mailbox. */
export function mailedToken(sys: System, to: string, template: string): string {
  const m = /token=([A-Za-z0-9_-]+)/.exec(mailText(sys, to, template) ?? '');
  if (!m) throw new Error(`no ${template} mail for ${to} yet`);
  return m[1]!;
}

export async function signUpVerified(sys: System, b: Browser, email: string): Promise<void> {
  expect((await b.call('POST', '/v1/auth/signup', { email, password: PASSWORD, displayName: 'Mei <b>Ling</b>' })).status).toBe(202);
  const token = await eventually(() => mailedToken(sys, email, 'verify-email'), 20_000);
  expect((await b.call('POST', '/v1/auth/verify-email', { token })).status).toBeLessThan(300);
  expect((await b.call('POST', '/v1/auth/login', { email, password: PASSWORD })).status).toBe(200);
  expect(b.cookies.has('imlab_sid')).toBe(true);
}

export async function generate(b: Browser, prompt: string): Promise<{ id: string; cost: number; images: { id: string; url: string }[] }> {
  const created = await b.call('POST', '/v1/generations', { prompt, count: 1, seed: 11 });
  expect(created.status).toBe(202);
  return eventually(async () => {
    const r = await b.call('GET', `/v1/generations/${created.body.id}`);
    return r.body.status === 'succeeded' ? { ...r.body, cost: created.body.cost } : undefined;
  }, 30_000);
}
