import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { freePort } from '@imlab/testing';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

beforeAll(async () => {
  fakes = await startFakes();
  // notification is down: its document is missing, the others still merge
  gw = await startGateway({ ...fakes, notification: undefined });
  await gw.gateway.openapi.refresh();
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

describe('GET /openapi.json', () => {
  it('merges the public paths of every reachable service into one OpenAPI 3.1 document', async () => {
    const res = await send(`${gw.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } } & Record<string, unknown>;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/auth/login', '/v1/credits/balance', '/v1/gallery', '/v1/pricing']));
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/internal'))).toBe(false);
    expect(doc['x-imlab-unavailable-services']).toEqual(['notification']);
  });

  it('keeps clashing component schemas apart and points each service at its own', async () => {
    const doc = (await send(`${gw.url}/openapi.json`)).json() as {
      paths: Record<string, { get: { tags: string[]; responses: Record<string, { content: Record<string, { schema: { $ref: string } }> }> } }>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const refOf = (p: string) => doc.paths[p]!.get.responses['200']!.content['application/json']!.schema.$ref.split('/').pop()!;
    const names = ['/v1/auth/login', '/v1/credits/balance', '/v1/gallery', '/v1/pricing'].map(refOf);
    expect(new Set(names).size).toBe(4);
    expect(Object.keys(doc.components.schemas[refOf('/v1/pricing')]!.properties)).toEqual(['billing']);
    expect(doc.paths['/v1/pricing']!.get.tags).toEqual(['billing']);
  });

  it('asks again soon for a document it never had (services start after the gateway), not only at the next refresh', async () => {
    const port = await freePort();
    const early = await startGateway({ ...fakes, notification: undefined }, { NOTIFICATION_URL: `http://127.0.0.1:${port}` });
    let answers = 0;
    const late = createServer((req, res) => {
      res.writeHead(req.url === '/openapi.json' ? 200 : 404, { 'content-type': 'application/json' });
      // Its first answer is no OpenAPI document (a service half up): skipped, asked again.
      if (answers++ === 0) return res.end('null');
      res.end(JSON.stringify({ openapi: '3.1.0', info: { title: 'notification', version: '1' }, paths: { '/v1/notifications/webhooks/resend': { post: { responses: { 200: { description: 'ok' } } } } } }));
    });
    try {
      early.gateway.openapi.start(600); // the periodic refresh is ten minutes away
      await expect.poll(async () => ((await send(`${early.url}/openapi.json`)).json() as Record<string, unknown>)['x-imlab-unavailable-services']).toEqual(['notification']);
      await new Promise<void>((r) => late.listen(port, '127.0.0.1', r)); // the service comes up
      await expect
        .poll(async () => Object.keys(((await send(`${early.url}/openapi.json`)).json() as { paths: object }).paths), { timeout: 8000, interval: 200 })
        .toContain('/v1/notifications/webhooks/resend');
    } finally {
      early.gateway.openapi.stop();
      await early.close();
      await new Promise((r) => late.close(r));
    }
  });

  it('merges again only when a document changed (an unchanged refresh neither parses nor merges)', async () => {
    const port = await freePort();
    let version = '1';
    const service = createServer((req, res) => {
      res.writeHead(req.url === '/openapi.json' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ openapi: '3.1.0', info: { title: 'notification', version }, paths: { [`/v1/notifications/webhooks/v${version}`]: { post: { responses: { 200: { description: 'ok' } } } } } }));
    });
    await new Promise<void>((r) => service.listen(port, '127.0.0.1', r));
    const g = await startGateway({ ...fakes, notification: undefined }, { NOTIFICATION_URL: `http://127.0.0.1:${port}` });
    try {
      await g.gateway.openapi.refresh();
      const first = g.gateway.openapi.document();
      await g.gateway.openapi.refresh();
      expect(g.gateway.openapi.document()).toBe(first); // the same object: nothing was merged
      version = '2';
      await g.gateway.openapi.refresh();
      const second = g.gateway.openapi.document() as { paths: Record<string, unknown> };
      expect(second).not.toBe(first);
      expect(Object.keys(second.paths)).toContain('/v1/notifications/webhooks/v2');
      expect(Object.keys(second.paths)).not.toContain('/v1/notifications/webhooks/v1');
    } finally {
      await g.close();
      await new Promise((r) => service.close(r));
    }
  });

  it('picks up a service that comes back on the next refresh', async () => {
    const late = await startGateway({ ...fakes });
    try {
      await late.gateway.openapi.refresh();
      const doc = (await send(`${late.url}/openapi.json`)).json() as { paths: Record<string, unknown> } & Record<string, unknown>;
      expect(doc.paths['/v1/notifications/webhooks/resend']).toBeDefined();
      expect(doc['x-imlab-unavailable-services']).toBeUndefined();
    } finally {
      await late.close();
    }
  });
});

describe('GET /docs', () => {
  it('serves the browsable documentation of the merged document', async () => {
    const page = await fetch(`${gw.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('swagger');
    const json = await send(`${gw.url}/docs/json`);
    expect(Object.keys((json.json() as { paths: object }).paths)).toContain('/v1/pricing');
  });
});

describe('health and metrics', () => {
  it('/healthz answers while the process runs', async () => {
    expect((await send(`${gw.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('/readyz checks Redis and reports each service', async () => {
    const res = await send(`${gw.url}/readyz`);
    expect(res.status).toBe(200);
    const checks = res.json().checks as Record<string, string>;
    expect(checks).toMatchObject({ redis: 'ok', auth: 'ok', 'credits-ledger': 'ok', generation: 'ok', billing: 'ok' });
    expect(checks.notification).not.toBe('ok');
  });

  it('/metrics has latency per route template and rate-limit decisions', async () => {
    await send(`${gw.url}/v1/generations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b`);
    const text = (await send(`${gw.metricsUrl}/metrics`)).text;
    expect(text).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/v1\/generations\/:id"/);
    expect(text).toMatch(/imlab_gateway_rate_limit_decisions_total\{[^}]*policy="read"[^}]*decision="allowed"[^}]*\} \d+/);
  });

  it('labels answers that did not succeed by the service prefix: made-up paths add no series', async () => {
    fakes.generation.on('GET', /^\/v1\/images\/[^/]+$/, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end('{"status":404,"code":"IMAGE_NOT_FOUND"}');
    });
    const series = async () => ((await send(`${gw.metricsUrl}/metrics`)).text.match(/^http_request_duration_seconds_count\{.*$/gm) ?? []).length;
    await send(`${gw.url}/v1/images/warmup`);
    const before = await series();
    for (let i = 0; i < 20; i++) expect((await send(`${gw.url}/v1/images/made${i}up`)).status).toBe(404);
    expect(await series()).toBe(before);
    expect((await send(`${gw.metricsUrl}/metrics`)).text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/v1\/images\/\*"[^}]*status="404"/);
  });
});
