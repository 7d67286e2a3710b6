import type { Agent} from 'undici';
import { request } from 'undici';
import type { Logger } from '@imlab/logger';
import { API_TAGS, Problem, SESSION_COOKIE_PRODUCTION, type ServiceName } from '@imlab/contracts';
import { classify, isWebhook, type Upstreams } from '../routing/routes.js';

type Json = Record<string, unknown>;

interface ServiceDoc {
  paths?: Record<string, Json>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown>; [k: string]: unknown };
  tags?: { name: string; description?: string }[];
}

const REF_PREFIX = '#/components/schemas/';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

function rewriteRefs(node: unknown, rename: Map<string, string>): unknown {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, rename));
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(node as Json)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(REF_PREFIX)) {
        const name = v.slice(REF_PREFIX.length);
        out[k] = REF_PREFIX + (rename.get(name) ?? name);
      } else out[k] = rewriteRefs(v, rename);
    }
    return out;
  }
  return node;
}

/** A problem+json answer whose `code` is one of `codes` (the shape packages/http's errors() gives services' answers). */
const problemContent = (...codes: string[]) => ({
  'application/problem+json': { schema: { allOf: [{ $ref: `${REF_PREFIX}Problem` }, { type: 'object', properties: { code: { type: 'string', enum: codes } } }] } },
});
const retryAfter = { schema: { type: 'integer', minimum: 0 }, description: 'Seconds to wait before trying again.' };

/** Answers the gateway itself gives, as shared responses; which operations get them is decided by their route class. */
const GATEWAY_RESPONSES: Record<string, { status: string; code: string; applies: (method: string, path: string) => boolean; response: Json }> = {
  GatewayCsrfRejected: {
    status: '403',
    code: 'GATEWAY_CSRF_REJECTED',
    // Writes from a browser must come from an allowed origin; the signed webhooks are exempt.
    applies: (method, path) => !['get', 'head'].includes(method) && !isWebhook(path),
    response: {
      description: 'Forbidden by the gateway: `GATEWAY_CSRF_REJECTED` (a write whose `Origin` is not allowed, or cross-site without `Origin`).',
      content: problemContent('GATEWAY_CSRF_REJECTED'),
    },
  },
  GatewaySessionCookieConflict: {
    status: '401',
    code: 'GATEWAY_SESSION_COOKIE_CONFLICT',
    // Any request carrying session cookies may carry several (cookie tossing); the webhooks read none.
    applies: (_method, path) => !isWebhook(path),
    response: {
      description: 'Unauthorized by the gateway: `GATEWAY_SESSION_COOKIE_CONFLICT` (several session cookies that are each a live session; the cookie is cleared, sign in again).',
      content: problemContent('GATEWAY_SESSION_COOKIE_CONFLICT'),
    },
  },
  GatewayLengthRequired: {
    status: '411',
    code: 'GATEWAY_LENGTH_REQUIRED',
    // Bodies that are streamed through (uploads, webhooks) must declare their length.
    applies: (method, path) => method === 'post' && (isWebhook(path) || classify('POST', path)?.body === 'upload'),
    response: { description: 'Length Required by the gateway: `GATEWAY_LENGTH_REQUIRED` (the body must come with `Content-Length`).', content: problemContent('GATEWAY_LENGTH_REQUIRED') },
  },
  RateLimited: {
    status: '429',
    code: 'RATE_LIMITED',
    applies: () => true,
    response: {
      description: "Too Many Requests: `RATE_LIMITED` (the gateway's limit for this kind of request).",
      headers: {
        'retry-after': retryAfter,
        'ratelimit-policy': { schema: { type: 'string' }, description: 'The policy that refused (IETF RateLimit headers draft).' },
        ratelimit: { schema: { type: 'string' }, description: 'What is left of it.' },
      },
      content: problemContent('RATE_LIMITED'),
    },
  },
  UpstreamFailed: {
    status: '502',
    code: 'UPSTREAM_FAILED',
    applies: () => true,
    response: { description: 'Bad Gateway: `UPSTREAM_FAILED` (the service behind the gateway failed to answer).', content: problemContent('UPSTREAM_FAILED') },
  },
  ServiceUnavailable: {
    status: '503',
    code: 'SERVICE_UNAVAILABLE',
    applies: () => true,
    response: {
      description: 'Service Unavailable: `SERVICE_UNAVAILABLE` (a service is down or restarting, or sign-in cannot be checked right now).',
      headers: { 'retry-after': retryAfter },
      content: problemContent('SERVICE_UNAVAILABLE'),
    },
  },
  Internal: {
    status: '500',
    code: 'INTERNAL',
    applies: () => true,
    response: { description: 'Internal Server Error: `INTERNAL` (an unexpected error; the request id in the answer finds it in the logs).', content: problemContent('INTERNAL') },
  },
  UpstreamTimeout: {
    status: '504',
    code: 'UPSTREAM_TIMEOUT',
    applies: () => true,
    response: { description: 'Gateway Timeout: `UPSTREAM_TIMEOUT` (the service did not answer in time).', content: problemContent('UPSTREAM_TIMEOUT') },
  },
};

/**
 * Adds the gateway's own answers to an operation: as a reference to the shared response, or, where
 * the service already answers that status, by naming the gateway's code in its description.
 */
function addGatewayResponses(method: string, path: string, op: Json, used: Set<string>): void {
  const responses = (op.responses ?? {}) as Record<string, Json>;
  for (const [name, answer] of Object.entries(GATEWAY_RESPONSES)) {
    if (!answer.applies(method, path)) continue;
    const own = responses[answer.status];
    if (!own) {
      responses[answer.status] = { $ref: `#/components/responses/${name}` };
      used.add(name);
    } else if (typeof own.description === 'string' && !own.description.includes(`\`${answer.code}\``)) {
      own.description = `${own.description} From the gateway: \`${answer.code}\`.`;
      const narrowed = (own.content as { 'application/problem+json'?: { schema?: { allOf?: { properties?: { code?: { enum?: string[] } } }[] } } } | undefined)?.['application/problem+json']?.schema?.allOf?.[1]?.properties?.code;
      if (narrowed?.enum && !narrowed.enum.includes(answer.code)) narrowed.enum = [...narrowed.enum, answer.code];
    }
  }
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** The shared Problem schema as a component (services that use it list it themselves; this covers one that does not). */
function problemComponent(): Json {
  const { $id: _id, ...schema } = JSON.parse(JSON.stringify(Problem)) as Json;
  return { ...schema, description: 'An error (RFC 9457 problem details) with a stable `code`.' };
}

const DESCRIPTION = `The public API of imagemakerlab, served by the gateway; every service's routes, merged.

- **Sessions**: sign-in (\`POST /v1/auth/login\`, Google sign-in) sets the session cookie, \`__Host-imlab_sid\` (HttpOnly, Secure, SameSite=Lax, Path=/, no Domain; \`imlab_sid\` on a development server over plain http); browsers send it by themselves. A request carrying several session cookies is served with the one that is a live session; two live ones are refused (401 \`GATEWAY_SESSION_COOKIE_CONFLICT\`). Operations say whether they need it, and which role where one is needed.
- **Writes from browsers** (anything but GET, except the signed webhooks) whose \`Origin\` is sent must come from an allowed origin; without \`Origin\`, \`Sec-Fetch-Site\` must be \`same-origin\` or \`none\`. Otherwise 403 \`GATEWAY_CSRF_REJECTED\`.
- **Errors** are \`application/problem+json\` (RFC 9457): \`type\`, \`title\`, \`status\`, a stable \`code\`, \`detail\`, \`requestId\`, and for validation errors an \`errors\` list. Each response names the codes it can carry.
- **Rate limits**: 429 with \`Retry-After\`, \`RateLimit-Policy\` and \`RateLimit\` headers; every answer carries the \`RateLimit*\` headers of its policy.
- **Lists** are cursor-paginated: \`?cursor=&limit=\`, answering \`{ items, nextCursor }\` (\`nextCursor\` null at the end).
- **Idempotency**: \`POST /v1/generations\` and \`POST /v1/billing/checkout\` honour an \`Idempotency-Key\` header.
- Every answer carries \`x-request-id\`; quote it when reporting a problem.`;

/**
 * One OpenAPI 3.1 document from each service's own (built from its route schemas): only public
 * /v1 paths, each operation tagged with its area (its service when it has none); component
 * schemas that clash between services are renamed `<service>.<name>` and the service's references
 * rewritten. Tags and security schemes come from the services' documents; the gateway adds its own
 * answers (rate limits, CSRF, upstream failures) to every operation they can happen to.
 */
export function mergeOpenApi(docs: Partial<Record<ServiceName, ServiceDoc>>, publicBaseUrl: string, missing: ServiceName[]): Json {
  const paths: Record<string, Json> = {};
  const schemas: Record<string, unknown> = {};
  const securitySchemes: Record<string, unknown> = {};
  const tags = new Map<string, { name: string; description?: string }>();
  const gatewayResponses = new Set<string>();
  for (const [service, doc] of Object.entries(docs) as [ServiceName, ServiceDoc][]) {
    const rename = new Map<string, string>();
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      if (name in schemas && JSON.stringify(schemas[name]) !== JSON.stringify(schema)) rename.set(name, `${service}.${name}`);
    }
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      schemas[rename.get(name) ?? name] = rewriteRefs(schema, rename);
    }
    Object.assign(securitySchemes, doc.components?.securitySchemes ?? {});
    for (const tag of doc.tags ?? []) if (!tags.has(tag.name)) tags.set(tag.name, tag);
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!path.startsWith('/v1/')) continue;
      const rewritten = rewriteRefs(item, rename) as Record<string, Json>;
      for (const [method, op] of Object.entries(rewritten)) {
        if (!METHODS.includes(method) || !op || typeof op !== 'object' || Array.isArray(op)) continue;
        op.tags = Array.isArray(op.tags) && op.tags.length ? op.tags : [service];
        for (const tag of op.tags as string[]) if (!tags.has(tag)) tags.set(tag, { name: tag });
        addGatewayResponses(method, path, op, gatewayResponses);
      }
      paths[path] = { ...(paths[path] ?? {}), ...rewritten };
    }
  }
  schemas.Problem ??= problemComponent();
  const order = (name: string) => {
    const i = API_TAGS.findIndex((t) => t.name === name);
    return i === -1 ? API_TAGS.length : i;
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'imagemakerlab API',
      version: '1.0.0',
      description: DESCRIPTION,
      contact: { name: 'imagemakerlab', url: publicBaseUrl },
      license: { name: 'Proprietary', identifier: 'LicenseRef-imagemakerlab-proprietary' },
    },
    servers: [{ url: publicBaseUrl.replace(/\/+$/, ''), description: 'This deployment (the gateway)' }],
    tags: [...tags.values()].sort((a, b) => order(a.name) - order(b.name)),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas,
      responses: Object.fromEntries(Object.entries(GATEWAY_RESPONSES).filter(([name]) => gatewayResponses.has(name)).map(([name, answer]) => [name, answer.response])),
      securitySchemes: Object.keys(securitySchemes).length ? securitySchemes : { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE_PRODUCTION } },
    },
    ...(missing.length ? { 'x-imlab-unavailable-services': missing } : {}),
  };
}

/**
 * Fetches every service's /openapi.json at start-up and then periodically. A service that is down
 * keeps its last good document (or is listed as unavailable) and never blocks the others. While a
 * service's document has never been read (the gateway usually starts before the services), it is
 * asked again after 1 s, doubling up to the refresh period, not only at the next refresh.
 */
export class OpenApiAggregator {
  private docs: Partial<Record<ServiceName, ServiceDoc>> = {};
  /** Each service's document as last received, to tell an unchanged one without parsing it. */
  private texts: Partial<Record<ServiceName, string>> = {};
  private missing: ServiceName[] = [];
  private merged: Json;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private readonly upstreams: Upstreams;
  private readonly publicBaseUrl: string;
  private readonly dispatcher: Agent;
  private readonly logger: Logger;
  constructor(
    upstreams: Upstreams,
    publicBaseUrl: string,
    dispatcher: Agent,
    logger: Logger,
  ) {
    this.upstreams = upstreams;
    this.publicBaseUrl = publicBaseUrl;
    this.dispatcher = dispatcher;
    this.logger = logger;
    this.merged = mergeOpenApi({}, publicBaseUrl, Object.keys(upstreams) as ServiceName[]);
  }

  document(): Json {
    return this.merged;
  }

  async refresh(): Promise<void> {
    const missing: ServiceName[] = [];
    let changed = false;
    await Promise.all(
      (Object.entries(this.upstreams) as [ServiceName, string][]).map(async ([service, base]) => {
        try {
          const res = await request(new URL('/openapi.json', base), { dispatcher: this.dispatcher, headersTimeout: 2000, bodyTimeout: 2000 });
          if (res.statusCode !== 200) {
            await res.body.dump();
            throw new Error(`status ${res.statusCode}`);
          }
          const text = await res.body.text();
          // The same bytes as last time (nearly every refresh): nothing to parse or merge. Parsing and
          // merging every document blocks the event loop for milliseconds once a minute, and every
          // request arriving meanwhile waits (docs/benchmarks.md, "Gateway").
          if (this.docs[service] && this.texts[service] === text) return;
          const doc = JSON.parse(text) as unknown;
          if (!doc || typeof doc !== 'object' || typeof (doc as { paths?: unknown }).paths !== 'object' || !(doc as { paths?: unknown }).paths) throw new Error('not an OpenAPI document');
          this.docs[service] = doc as ServiceDoc;
          this.texts[service] = text;
          changed = true;
        } catch (err) {
          if (!this.docs[service]) missing.push(service);
          this.logger.debug({ service, reason: (err as Error).message }, 'OpenAPI document unavailable');
        }
      }),
    );
    if (!changed && [...missing].sort().join() === [...this.missing].sort().join()) return;
    this.missing = missing;
    this.merged = mergeOpenApi(this.docs, this.publicBaseUrl, this.missing);
  }

  start(everySeconds: number): void {
    const period = everySeconds * 1000;
    let retry = Math.min(1000, period);
    const round = async () => {
      try {
        await this.refresh();
      } catch (err) {
        this.logger.warn({ err }, 'OpenAPI refresh failed; the last merged document stays');
      } finally {
        if (!this.stopped) {
          const delay = this.missing.length ? retry : period;
          retry = this.missing.length ? Math.min(retry * 2, period) : Math.min(1000, period);
          this.timer = setTimeout(() => void round(), delay);
          this.timer.unref();
        }
      }
    };
    void round();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
