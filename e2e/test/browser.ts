// A person's browser against the gateway: a cookie jar, same-site Origin and Fetch-Metadata
// headers, and a distinctive client identity (source address and user agent) that must never
// show up in any log line, Redis key or value, or table of the system.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { expect } from 'vitest';
import { eventually } from '@imlab/testing';
import { createApiClient, type ApiClient, type ApiClientOptions, type Generation } from '@imlab/client';
import type { E2E, System } from './system.js';

export const CLIENT_IP = '127.0.0.77';
/** Each suite browses from its own loopback address (the sign-up bonus is once per IP hash). */
export const CLIENT_IPS = { journey: CLIENT_IP, billing: '127.0.0.78', privacy: '127.0.0.79', settings: '127.0.0.80' } as const;
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
  private client: ApiClient | undefined;

  /** `e2e` is read at call time: suites build browsers before the system has started. */
  private readonly e2e: () => Pick<E2E, 'sys' | 'contract'>;
  private readonly ip: string;
  constructor(
    e2e: () => Pick<E2E, 'sys' | 'contract'>,
    ip: string = CLIENT_IP,
  ) {
    this.e2e = e2e;
    this.ip = ip;
  }

  /**
   * The browser's fetch: its cookie jar, source address (an undici Agent with localAddress), user
   * agent, and a same-site Origin and Sec-Fetch-Site unless the request names its own. Redirects
   * are not followed (each answer is the gateway's own). Every answer is checked against the API
   * document the gateway serves (contract.ts); the mismatches fail the suite at its end.
   */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const headers: Record<string, string> = { 'user-agent': CLIENT_UA, origin: ORIGIN, 'sec-fetch-site': 'same-site' };
    request.headers.forEach((value, name) => (headers[name] = value));
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const res = await undiciFetch(request.url, { method: request.method, headers, body, dispatcher: agentFor(this.ip), redirect: 'manual', signal: request.signal });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      issued.cookieNames.add(k!);
      if (k === 'imlab_sid' && v) issued.sessionTokens.add(v);
      if (v) this.cookies.set(k!, v);
      else this.cookies.delete(k!);
    }
    await this.e2e().contract.observe(request.method, request.url, res);
    return res as unknown as Response;
  };

  /** What the client's helpers (`download`, `generationEvents`) take: the gateway and this fetch. */
  get options(): ApiClientOptions {
    return { baseUrl: this.e2e().sys.gatewayUrl, fetch: this.fetch };
  }

  /** The generated client (packages/client) on this browser's fetch. */
  get api(): ApiClient {
    return (this.client ??= createApiClient(this.options));
  }

  /**
   * A raw call through the same fetch (so its answer is checked too), for what the typed client
   * cannot send: paths outside the API document, or input its types forbid.
   */
  async call(method: string, url: string, body?: unknown): Promise<Res> {
    const res = await this.fetch(`${this.e2e().sys.gatewayUrl}${url}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = bytes.toString('utf8');
    try {
      parsed = JSON.parse(parsed as string);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers, bytes };
  }
}

/** `eventually` for a value: what `fn` answers once it answers one (it never answers undefined). */
export const until = <T>(fn: () => Promise<T | undefined>, timeoutMs?: number): Promise<T> => eventually(fn, timeoutMs) as Promise<T>;

/** The texts of every `template` mail to `to` in the development mailbox, oldest first. */
export function mailTexts(sys: System, to: string, template: string): string[] {
  const dir = path.join(sys.dataDir, 'mailbox');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .filter((t) => t.includes(`To: ${to}`) && t.includes(`Template: ${template}`));
}

/** The text of the newest `template` mail to `to` in the development mailbox, if any. */
export const mailText = (sys: System, to: string, template: string): string | undefined => mailTexts(sys, to, template).at(-1);

/** How many `template` mails to `to` the development mailbox holds. */
export const mailCount = (sys: System, to: string, template: string): number => mailTexts(sys, to, template).length;

/** The token of the newest `template` mail to `to` in the development mailbox. */
export function mailedToken(sys: System, to: string, template: string): string {
  const m = /token=([A-Za-z0-9_-]+)/.exec(mailText(sys, to, template) ?? '');
  if (!m) throw new Error(`no ${template} mail for ${to} yet`);
  return m[1]!;
}

export async function signUpVerified(sys: System, b: Browser, email: string): Promise<void> {
  // a refusal says which problem it was (a 503 from the gateway names the store or service it lacked)
  const signedUp = await b.api.POST('/v1/auth/signup', { body: { email, password: PASSWORD, displayName: 'Mei <b>Ling</b>' } });
  expect(signedUp.response.status, `sign-up: ${JSON.stringify(signedUp.error)}`).toBe(202);
  const token = await eventually(() => mailedToken(sys, email, 'verify-email'), 20_000).catch((err: Error) => {
    // what the processes logged as going wrong meanwhile (a background task, the relay, the mailer)
    const problems = sys.logs.flatMap((chunk) => chunk.split('\n')).filter((line) => /"level":(40|50|60)/.test(line)).slice(-8);
    throw new Error(`${err.message}; warnings and errors logged: ${problems.join('\n') || 'none'}`);
  });
  const verified = await b.api.POST('/v1/auth/verify-email', { body: { token } });
  expect(verified.response.status, `verify: ${JSON.stringify(verified.error)}`).toBeLessThan(300);
  const signedIn = await b.api.POST('/v1/auth/login', { body: { email, password: PASSWORD } });
  expect(signedIn.response.status, `sign-in: ${JSON.stringify(signedIn.error)}`).toBe(200);
  expect(b.cookies.has('imlab_sid')).toBe(true);
}

export async function generate(b: Browser, prompt: string): Promise<Generation> {
  const created = await b.api.POST('/v1/generations', { body: { prompt, count: 1, seed: 11 } });
  expect(created.response.status).toBe(202);
  const id = created.data!.id;
  return until(async () => {
    const r = await b.api.GET('/v1/generations/{id}', { params: { path: { id } } });
    return r.data?.status === 'succeeded' ? r.data : undefined;
  }, 30_000);
}
