import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';
import { SpanKind } from '@opentelemetry/api';
import { infra, testPrefix, TS_NODE_ARGS } from '@imlab/testing';
import { instrumentationEnabled, instrumentationsFromEnv, recordSpans, runInContext, startSpan, urlWithoutQuery } from '../src/index.js';

describe('which instrumentations run', () => {
  it('none unless spans are exported; all when they are; the OTEL_NODE_* lists choose', () => {
    expect([...instrumentationsFromEnv({}, false)]).toEqual([]);
    expect([...instrumentationsFromEnv({}, true)]).toEqual(['pg', 'ioredis', 'undici', 'bullmq']);
    expect([...instrumentationsFromEnv({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' PG, undici ' }, false)]).toEqual(['pg', 'undici']);
    expect([...instrumentationsFromEnv({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: '' }, true)]).toEqual([]);
    expect([...instrumentationsFromEnv({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'bullmq,ioredis' }, true)]).toEqual(['pg', 'undici']);
    // an unknown name is left out here; the config refuses it in its one message (otelProblems)
    expect([...instrumentationsFromEnv({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,http' }, false)]).toEqual(['pg']);
  });

  it('drops the query string from the URL a client span records', () => {
    expect(urlWithoutQuery({ origin: 'http://auth:4001', path: '/v1/auth/verify?token=abc&x=1' })).toEqual({ 'url.full': 'http://auth:4001/v1/auth/verify', 'url.query': '' });
    expect(urlWithoutQuery({ origin: 'https://api.example/', path: '/v1/x' })).toEqual({ 'url.full': 'https://api.example/v1/x', 'url.query': '' });
  });

  // A real process, as the services start (node --import ./scripts/ts-resolve.mjs src/main.ts, or node dist/…/main.js):
  // the loader hook must patch ioredis, imported by name as an ES module, and pg.
  it.each([
    [{ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,ioredis,undici,bullmq' }, { enabled: ['pg', 'ioredis', 'undici', 'bullmq'], ioredis: true, pg: true }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, { enabled: ['pg', 'ioredis', 'undici', 'bullmq'], ioredis: true, pg: true }],
    [{}, { enabled: [], ioredis: false, pg: false }],
  ])('an entry point that calls instrument() first, with %o', (env, expected) => {
    const fixture = fileURLToPath(new URL('./fixtures/instrumented-entry.ts', import.meta.url));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const r = spawnSync(process.execPath, [...TS_NODE_ARGS, fixture], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual(expected);
  });
});

// What the instrumentations record must never hold a secret: no bound parameter, no Redis argument,
// no header, no query string (packages/http/test/instrument-setup.ts turns them on in every test file).
describe('spans hold no secrets', () => {
  const SECRET = `s3cret-${Math.random().toString(36).slice(2)}`;
  let server: Server;
  let origin: string;
  let pool: pg.Pool;
  let redis: Redis;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${SECRET}` }).end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    pool = new pg.Pool({ connectionString: infra().databaseUrl, max: 1 });
    redis = new Redis(infra().redisUrl, { lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await pool?.end();
    redis?.disconnect();
  });

  it('records the statements, commands and calls of a request, without their values', async () => {
    expect(['pg', 'ioredis', 'undici'].every((n) => instrumentationEnabled(n as 'pg'))).toBe(true);
    const recording = recordSpans();
    try {
      const key = `${testPrefix('spans')}:secret`;
      const { span, ctx } = startSpan('POST /v1/things', SpanKind.SERVER, undefined);
      await runInContext(ctx, async () => {
        const { rows } = await pool.query('select $1::text as v', [SECRET]);
        expect(rows[0].v).toBe(SECRET);
        await redis.set(key, SECRET, 'EX', 60);
        expect(await redis.get(key)).toBe(SECRET);
        await redis.del(key);
        const res = await request(`${origin}/v1/internal/thing?token=${SECRET}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${SECRET}`, cookie: `imlab_sid=${SECRET}`, 'content-type': 'application/json' },
          body: JSON.stringify({ password: SECRET }),
        });
        await res.body.dump();
      });
      span.end();
      const spans = recording.finished().filter((s) => s.spanContext().traceId === span.spanContext().traceId);
      const scopes = spans.map((s) => s.instrumentationScope.name);
      expect(scopes).toEqual(expect.arrayContaining(['@opentelemetry/instrumentation-pg', '@opentelemetry/instrumentation-ioredis', '@opentelemetry/instrumentation-undici']));
      const query = spans.find((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-pg')!;
      expect(Object.values(query.attributes)).toContain('select $1::text as v');
      const commands = spans.filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-ioredis').map((s) => s.name);
      expect(commands).toEqual(expect.arrayContaining(['set', 'get', 'del']));
      const call = spans.find((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-undici')!;
      expect(call.attributes['url.full']).toBe(`${origin}/v1/internal/thing`);
      // every span is a child (or grandchild) of the request's
      for (const s of spans.filter((x) => x !== recording.finished().find((f) => f.name === 'POST /v1/things'))) expect(s.parentSpanContext?.spanId, s.name).toBeDefined();
      // and nothing anywhere in them (names, attributes, events, links) holds the secret
      const dump = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, links: s.links, status: s.status, resource: s.resource.attributes })));
      expect(dump).not.toContain(SECRET);
      expect(dump).not.toContain('s3cret');
    } finally {
      recording.stop();
    }
  });
});
