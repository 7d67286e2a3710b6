// The contract checker the end-to-end suite runs every answer through must catch what it is
// there to catch, or the suite's "zero mismatches" would mean nothing.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ContractChecker, apartFromDeployment, type OpenApiDocument } from './contract.js';

const document = JSON.parse(readFileSync(new URL('../../packages/client/openapi.json', import.meta.url), 'utf8')) as OpenApiDocument;
const checker = () => new ContractChecker(document, { outside: { '/admin/queues': 'the ops board, a web page' } });
const headers = (contentType?: string, more: Record<string, string> = {}) => new Headers({ ...(contentType ? { 'content-type': contentType } : {}), ...more });
const problem = (status: number, code: string) => JSON.stringify({ type: 'about:blank', title: 'Not Found', status, code, detail: 'x', requestId: 'r-1' });

const ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80';
/** The document's own example of a schema: an answer the document must accept. */
const example = (name: string) => (document.components!.schemas as Record<string, { examples: unknown[] }>)[name]!.examples[0]!;
const generation = example('Generation');

describe('the contract checker', () => {
  it('passes answers as the document declares them: bodies, shared gateway answers, problem codes, streams and files', () => {
    const c = checker();
    const ok = (method: string, url: string, status: number, contentType: string | undefined, body?: string) => expect(c.check({ method, url, status, headers: headers(contentType), body }), `${method} ${url} ${status}`).toEqual([]);
    ok('GET', `/v1/generations/${ID}`, 200, 'application/json; charset=utf-8', JSON.stringify(generation));
    ok('GET', '/v1/credits/balance', 200, 'application/json', '{"available":40,"held":0}');
    ok('GET', `/v1/generations/${ID}`, 404, 'application/problem+json', problem(404, 'GENERATION_NOT_FOUND'));
    ok('GET', `/v1/generations/${ID}`, 429, 'application/problem+json', problem(429, 'RATE_LIMITED'));
    ok('POST', `/v1/generations`, 403, 'application/problem+json', problem(403, 'GATEWAY_CSRF_REJECTED'));
    ok('POST', '/v1/generations/quote', 200, 'application/json', JSON.stringify(example('GenerationQuote')));
    ok('GET', `/v1/generations/${ID}/events`, 200, 'text/event-stream');
    ok('GET', `/v1/images/${ID}`, 200, 'image/png');
    ok('DELETE', `/v1/images/${ID}`, 204, undefined, '');
    expect(c.checked).toBe(9);
  });

  it('catches a status the operation does not declare', () => {
    expect(checker().check({ method: 'GET', url: '/v1/credits/balance', status: 404, headers: headers('application/problem+json'), body: problem(404, 'NOT_FOUND') })).toEqual([
      'GET /v1/credits/balance → 404 application/problem+json: status 404 is not declared (the document declares 200, 401, 429, 500, 502, 503, 504)',
    ]);
  });

  it('catches a content type the answer does not declare, and a body where none is declared', () => {
    const c = checker();
    expect(c.check({ method: 'GET', url: '/v1/credits/balance', status: 200, headers: headers('text/html'), body: '<p>40</p>' })).toEqual([
      'GET /v1/credits/balance → 200 text/html: content type text/html is not declared (the document declares application/json)',
    ]);
    expect(c.check({ method: 'GET', url: `/v1/images/${ID}`, status: 200, headers: headers('image/webp') })).toEqual([
      `GET /v1/images/${ID} (/v1/images/{id}) → 200 image/webp: content type image/webp is not declared (the document declares image/png)`,
    ]);
    expect(c.check({ method: 'DELETE', url: `/v1/images/${ID}`, status: 204, headers: headers('application/json'), body: '{}' })).toEqual([
      `DELETE /v1/images/${ID} (/v1/images/{id}) → 204 application/json: answers a body of application/json where the document declares none`,
    ]);
  });

  it('catches a registered problem code the operation does not declare for that status', () => {
    expect(checker().check({ method: 'GET', url: `/v1/generations/${ID}`, status: 404, headers: headers('application/problem+json'), body: problem(404, 'IMAGE_NOT_FOUND') })).toEqual([
      `GET /v1/generations/${ID} (/v1/generations/{id}) → 404 application/problem+json: body /code must be equal to one of the allowed values (got "IMAGE_NOT_FOUND")`,
    ]);
  });

  it('catches a body field of the wrong type, a missing field and a body that is not JSON', () => {
    const c = checker();
    expect(c.check({ method: 'GET', url: '/v1/credits/balance', status: 200, headers: headers('application/json'), body: '{"available":"40","held":0}' })).toEqual([
      'GET /v1/credits/balance → 200 application/json: body /available must be integer (got "40")',
    ]);
    expect(c.check({ method: 'GET', url: `/v1/generations/${ID}`, status: 200, headers: headers('application/json'), body: JSON.stringify({ ...generation, images: undefined }) })).toEqual([
      `GET /v1/generations/${ID} (/v1/generations/{id}) → 200 application/json: body must have required property 'images'`,
    ]);
    expect(c.check({ method: 'GET', url: '/v1/credits/balance', status: 200, headers: headers('application/json'), body: 'forty' })).toEqual(['GET /v1/credits/balance → 200 application/json: the body is not JSON']);
  });

  it('catches an answer to a path or method the document does not have, but not on the paths kept outside it', () => {
    const c = checker();
    expect(c.check({ method: 'PUT', url: `/v1/generations/${ID}`, status: 200, headers: headers('application/json'), body: '{}' })).toEqual([
      `PUT /v1/generations/${ID} → 200 application/json: the document has no PUT operation for /v1/generations/{id}`,
    ]);
    expect(c.check({ method: 'GET', url: 'http://127.0.0.1:1234/v1/nothing?x=1', status: 200, headers: headers('application/json'), body: '{}' })).toEqual(['GET /v1/nothing → 200 application/json: no path of the document matches']);
    expect(c.check({ method: 'GET', url: '/admin/queues', status: 200, headers: headers('text/html'), body: '<html>' })).toEqual([]);
    expect(c.outside.get('/admin/queues')).toBe(1);
    expect(c.checked).toBe(0);
  });

  it('matches a concrete path before a template that also matches it', () => {
    expect(checker().operationOf('POST', '/v1/generations/quote')?.template).toBe('/v1/generations/quote');
    expect(checker().operationOf('POST', `/v1/generations/${ID}/cancel`)?.template).toBe('/v1/generations/{id}/cancel');
    expect(checker().operationOf('GET', '/v1/generations/quote')?.template).toBe('/v1/generations/{id}');
  });

  it('checks documented headers: a required one missing, a value against its schema', () => {
    const doc: OpenApiDocument = {
      openapi: '3.1.0',
      paths: {
        '/v1/things': {
          post: {
            responses: {
              '202': { description: 'accepted', headers: { location: { required: true, schema: { type: 'string' } } }, content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
              '429': { $ref: '#/components/responses/Limited' },
            },
          },
        },
      },
      components: {
        schemas: { Thing: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } },
        responses: { Limited: { description: 'limited', headers: { 'retry-after': { schema: { type: 'integer', minimum: 0 } } } } },
      },
    };
    const c = new ContractChecker(doc);
    expect(c.check({ method: 'POST', url: '/v1/things', status: 202, headers: headers('application/json', { location: '/v1/things/1' }), body: '{"id":"1"}' })).toEqual([]);
    expect(c.check({ method: 'POST', url: '/v1/things', status: 202, headers: headers('application/json'), body: '{"id":1}' })).toEqual([
      'POST /v1/things → 202 application/json: the required header location is missing',
      'POST /v1/things → 202 application/json: body /id must be string (got 1)',
    ]);
    expect(c.check({ method: 'POST', url: '/v1/things', status: 429, headers: headers(undefined, { 'retry-after': '7' }) })).toEqual([]);
    expect(c.check({ method: 'POST', url: '/v1/things', status: 429, headers: headers(undefined, { 'retry-after': 'soon' }) })).toEqual([
      'POST /v1/things → 429 (no content type): header retry-after must be integer (got "soon")',
    ]);
  });

  it('records what it observes of a real answer and leaves the body to its reader', async () => {
    const c = checker();
    const answer = new Response('{"available":"40","held":0}', { status: 200, headers: { 'content-type': 'application/json' } });
    await c.observe('GET', 'http://gateway.test/v1/credits/balance', answer);
    expect(await answer.json()).toEqual({ available: '40', held: 0 });
    // an event stream that never ends is not read
    const stream = new Response(new ReadableStream({ start: () => undefined }), { status: 200, headers: { 'content-type': 'text/event-stream' } });
    await c.observe('GET', `http://gateway.test/v1/generations/${ID}/events`, stream);
    expect(c.mismatches).toEqual(['GET /v1/credits/balance → 200 application/json: body /available must be integer (got "40")']);
    expect(c.checked).toBe(2);
  });

  it('compares documents apart from their deployment: servers and the public base URL', () => {
    const elsewhere = { ...document, servers: [{ url: 'http://elsewhere.test' }], info: { ...(document.info as object), contact: { name: 'imagemakerlab', url: 'http://elsewhere.test' } } };
    expect(apartFromDeployment(elsewhere)).toEqual(apartFromDeployment(document));
    expect(apartFromDeployment(document)).not.toHaveProperty('servers');
    expect(apartFromDeployment({ ...elsewhere, openapi: '3.0.3' })).not.toEqual(apartFromDeployment(document));
  });
});
