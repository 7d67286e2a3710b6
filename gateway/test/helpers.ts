import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { createLogger } from '@imlab/logger';
import { captureLogs, testPrefix } from '@imlab/testing';
import { loadGatewayConfig, type Config } from '../src/config.js';
import { build, type Gateway } from '../src/app.js';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type FakeHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

export interface FakeService {
  name: string;
  url: string;
  requests: Recorded[];
  /** Per path (without query) handlers; everything else answers 200 JSON naming the service. */
  on(method: string, path: string | RegExp, handler: FakeHandler): void;
  close(): Promise<void>;
}

const INTERNAL_TOKEN = 'test-internal-token-0123456789abcdef';

/**
 * A stand-in for one service over real HTTP: records every request it receives (headers and the
 * exact body bytes) and serves a small OpenAPI document like @imlab/http's buildApp would.
 */
export async function startFakeService(name: string): Promise<FakeService> {
  const requests: Recorded[] = [];
  const handlers: { method: string; path: string | RegExp; handler: FakeHandler }[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/openapi.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(openApiOf(name)));
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const h = handlers.find((x) => x.method === req.method && (typeof x.path === 'string' ? x.path === path : x.path.test(path)));
    if (h) return h.handler(req, res, body);
    res.writeHead(200, { 'content-type': 'application/json', server: 'fake/1.0', 'x-powered-by': 'fake' });
    res.end(JSON.stringify({ service: name, method: req.method, url: req.url }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    requests,
    on: (method, path, handler) => handlers.unshift({ method, path, handler }),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function openApiOf(service: string) {
  const segment = { auth: 'auth/login', 'credits-ledger': 'credits/balance', generation: 'gallery', billing: 'pricing', notification: 'notifications/webhooks/resend' }[service];
  return {
    openapi: '3.1.0',
    info: { title: `imagemakerlab ${service}`, version: '1.0.0' },
    paths: {
      [`/v1/${segment}`]: { get: { responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } } } } },
      [`/internal/${service}/secret`]: { post: { responses: { '200': { description: 'internal' } } } },
    },
    components: { schemas: { Thing: { type: 'object', properties: { [service]: { type: 'string' } } } } },
  };
}

export interface FakeAuth extends FakeService {
  /** Session tokens the fake knows: token → user id. */
  sessions: Map<string, string>;
  /** Roles per user id (default `['user']`), returned by resolve as auth does. */
  roles: Map<string, string[]>;
  /** The account's locale per user id (default `en`), returned by resolve as auth does. */
  locales: Map<string, 'en' | 'zh'>;
  resolves: { token: string; audience: string }[];
}

/** The auth fake speaks POST /internal/sessions/resolve exactly as auth does. */
export async function startFakeAuth(): Promise<FakeAuth> {
  const svc = (await startFakeService('auth')) as FakeAuth;
  svc.sessions = new Map();
  svc.roles = new Map();
  svc.locales = new Map();
  svc.resolves = [];
  svc.on('POST', '/internal/sessions/resolve', (req, res, body) => {
    if (req.headers['x-imlab-internal-token'] !== INTERNAL_TOKEN) {
      res.writeHead(403, { 'content-type': 'application/problem+json' }).end('{"status":403,"code":"FORBIDDEN"}');
      return;
    }
    const { token, audience } = JSON.parse(body.toString()) as { token: string; audience: string };
    svc.resolves.push({ token, audience });
    const userId = svc.sessions.get(token);
    if (!userId) {
      res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"status":401,"code":"UNAUTHENTICATED"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `jwt.${audience}.${userId}`, userId, roles: svc.roles.get(userId) ?? ['user'], locale: svc.locales.get(userId) ?? 'en', expiresIn: 60 }));
  });
  return svc;
}

export interface Fakes {
  auth: FakeAuth;
  ledger: FakeService;
  generation: FakeService;
  billing: FakeService;
  notification: FakeService;
  close(): Promise<void>;
}

export async function startFakes(): Promise<Fakes> {
  const [auth, ledger, generation, billing, notification] = await Promise.all([
    startFakeAuth(),
    startFakeService('credits-ledger'),
    startFakeService('generation'),
    startFakeService('billing'),
    startFakeService('notification'),
  ]);
  return {
    auth,
    ledger,
    generation,
    billing,
    notification,
    close: async () => {
      await Promise.all([auth, ledger, generation, billing, notification].map((s) => s.close()));
    },
  };
}

export interface RunningGateway {
  url: string;
  /** The internal listener serving /metrics (never the public port). */
  metricsUrl: string;
  config: Config;
  gateway: Gateway;
  logs: () => string;
  close(): Promise<void>;
}

/** Builds the real gateway against the fakes, on a real port, logging every line (trace) to memory. */
export async function startGateway(fakes: Partial<Fakes>, env: Record<string, string> = {}): Promise<RunningGateway> {
  const config = loadGatewayConfig({
    NODE_ENV: 'test',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
    IP_HASH_SECRET: 'test-ip-hash-secret-0123456789',
    PUBLIC_BASE_URL: 'http://gateway.test',
    CORS_ORIGINS: 'https://app.imlab.test',
    RATE_LIMIT_PREFIX: testPrefix('gateway'),
    AUTH_URL: fakes.auth?.url ?? 'http://127.0.0.1:1',
    LEDGER_URL: fakes.ledger?.url ?? 'http://127.0.0.1:1',
    GENERATION_URL: fakes.generation?.url ?? 'http://127.0.0.1:1',
    BILLING_URL: fakes.billing?.url ?? 'http://127.0.0.1:1',
    NOTIFICATION_URL: fakes.notification?.url ?? 'http://127.0.0.1:1',
    // A loaded CI machine can stall Redis or this process past the 250 ms production budget, which
    // would turn an expected 200/429 into the Redis-down answer; redis-down tests set their own.
    RATE_LIMIT_REDIS_TIMEOUT_MS: '2000',
    // The web app is served only where a test asks for it (web-app.test.ts gives its own build).
    WEB_DIST_DIR: '',
    ...env,
  });
  const captured = captureLogs();
  const logger = createLogger({ service: 'gateway', level: env.LOG_LEVEL ?? 'trace', destination: captured.stream });
  const gateway = await build({ config, logger });
  const address = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => gateway.metricsServer.listen(0, '127.0.0.1', r));
  const metricsUrl = `http://127.0.0.1:${(gateway.metricsServer.address() as AddressInfo).port}`;
  return { url: address, metricsUrl, config, gateway, logs: captured.text, close: () => gateway.app.close() };
}

export { INTERNAL_TOKEN };


const agents = new Map<string, Agent>();

/** A client bound to a chosen loopback source address (127.0.0.x), for distinct client IPs. */
function agentFor(localAddress: string): Agent {
  let a = agents.get(localAddress);
  if (!a) {
    a = new Agent({ localAddress, connections: 64 });
    agents.set(localAddress, a);
  }
  return a;
}

export async function closeClients(): Promise<void> {
  await Promise.all([...agents.values()].map((a) => a.close()));
  agents.clear();
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

export async function send(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; from?: string } = {},
): Promise<Answer> {
  const res = await request(url, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: { 'user-agent': 'imlab-test', ...opts.headers },
    body: opts.body,
    dispatcher: agentFor(opts.from ?? '127.0.0.1'),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}
