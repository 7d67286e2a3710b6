import type { Agent} from 'undici';
import { request } from 'undici';
import type { Logger } from '@imlab/logger';
import type { ServiceName } from '@imlab/contracts';
import type { Upstreams } from '../routing/routes.js';

type Json = Record<string, unknown>;

interface ServiceDoc {
  paths?: Record<string, Json>;
  components?: { schemas?: Record<string, unknown>; [k: string]: unknown };
}

const REF_PREFIX = '#/components/schemas/';

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

/**
 * One OpenAPI 3.1 document from each service's own (built from its route schemas): only public
 * /v1 paths, each operation tagged with its service; component schemas that clash between
 * services are renamed `<service>.<name>` and the service's references rewritten.
 */
export function mergeOpenApi(docs: Partial<Record<ServiceName, ServiceDoc>>, publicBaseUrl: string, missing: ServiceName[]): Json {
  const paths: Record<string, Json> = {};
  const schemas: Record<string, unknown> = {};
  for (const [service, doc] of Object.entries(docs) as [ServiceName, ServiceDoc][]) {
    const rename = new Map<string, string>();
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      if (name in schemas && JSON.stringify(schemas[name]) !== JSON.stringify(schema)) rename.set(name, `${service}.${name}`);
    }
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      schemas[rename.get(name) ?? name] = rewriteRefs(schema, rename);
    }
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!path.startsWith('/v1/')) continue;
      const rewritten = rewriteRefs(item, rename) as Record<string, Json>;
      for (const op of Object.values(rewritten)) {
        if (op && typeof op === 'object' && !Array.isArray(op)) op.tags = Array.isArray(op.tags) && op.tags.length ? op.tags : [service];
      }
      paths[path] = { ...(paths[path] ?? {}), ...rewritten };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'imagemakerlab API',
      version: '1.0.0',
      description: 'Public API served by the gateway. Sign-in sets the imlab_sid cookie; write requests from browsers must come from an allowed Origin.',
    },
    servers: [{ url: publicBaseUrl }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas,
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'imlab_sid' } },
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
  private missing: ServiceName[] = [];
  private merged: Json;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly upstreams: Upstreams,
    private readonly publicBaseUrl: string,
    private readonly dispatcher: Agent,
    private readonly logger: Logger,
  ) {
    this.merged = mergeOpenApi({}, publicBaseUrl, Object.keys(upstreams) as ServiceName[]);
  }

  document(): Json {
    return this.merged;
  }

  async refresh(): Promise<void> {
    const missing: ServiceName[] = [];
    await Promise.all(
      (Object.entries(this.upstreams) as [ServiceName, string][]).map(async ([service, base]) => {
        try {
          const res = await request(new URL('/openapi.json', base), { dispatcher: this.dispatcher, headersTimeout: 2000, bodyTimeout: 2000 });
          if (res.statusCode !== 200) {
            await res.body.dump();
            throw new Error(`status ${res.statusCode}`);
          }
          const doc = (await res.body.json()) as unknown;
          if (!doc || typeof doc !== 'object' || typeof (doc as { paths?: unknown }).paths !== 'object' || !(doc as { paths?: unknown }).paths) throw new Error('not an OpenAPI document');
          this.docs[service] = doc as ServiceDoc;
        } catch (err) {
          if (!this.docs[service]) missing.push(service);
          this.logger.debug({ service, reason: (err as Error).message }, 'OpenAPI document unavailable');
        }
      }),
    );
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
