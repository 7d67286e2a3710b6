import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { createLogger } from '@imlab/logger';
import { AppError, binaryContent, buildApp, errors, operation, type App } from '../src/index.js';

const Thing = Type.Object({ name: Type.String({ minLength: 1 }) }, { $id: 'Thing', additionalProperties: false, examples: [{ name: 'kettle' }] });
let app: App;

beforeAll(async () => {
  app = await buildApp({ service: 'demo', logger: createLogger({ service: 'demo', level: 'silent' }), schemas: [Thing] });
  app.post(
    '/v1/things',
    {
      schema: {
        ...operation('createThing', { tag: 'uploads', access: 'session', summary: 'Make a thing', description: 'Makes one.' }),
        body: ref(Thing),
        response: { 201: ref(Thing, { description: 'Made' }), ...errors({ 400: ['VALIDATION_FAILED'] }, { 400: ['INVALID_CURSOR', 'VALIDATION_FAILED'], 402: ['LEDGER_INSUFFICIENT_CREDITS'] }) },
      },
    },
    async (req, reply) => {
      if (req.body.name === 'broke') throw new AppError('LEDGER_INSUFFICIENT_CREDITS', { details: { shortfall: 3 } });
      return reply.code(201).send({ name: req.body.name });
    },
  );
  app.delete(
    '/v1/things',
    {
      preValidation: async (req) => {
        req.body ??= {};
      },
      schema: {
        ...operation('deleteThings', { tag: 'uploads', access: { roles: ['finance', 'admin'] }, summary: 'Drop them', description: 'Drops all.', optionalBody: true }),
        body: Type.Object({ reason: Type.Optional(Type.String()) }),
        response: { 204: Type.Null({ description: 'Gone' }) },
      },
    },
    async (_req, reply) => reply.code(204).send(null),
  );
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['image/png'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post(
      '/v1/bytes',
      { schema: { ...operation('sendBytes', { tag: 'uploads', access: 'public', summary: 'Bytes', description: 'Counts them.' }), body: { content: binaryContent(['image/png']) } } },
      async (req) => ({ bytes: Buffer.isBuffer(req.body) ? req.body.length : -1 }),
    );
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

describe('route documentation helpers', () => {
  it('names components by $id and points requests, answers and problems at them', () => {
    const doc = app.swagger() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Object.keys(doc.components.schemas)).toEqual(['Problem', 'Thing']);
    expect(doc.components.schemas.Thing.examples).toEqual([{ name: 'kettle' }]);
    const op = doc.paths['/v1/things'].post;
    expect(op).toMatchObject({ operationId: 'createThing', tags: ['uploads'], summary: 'Make a thing', security: [{ session: [] }] });
    expect(op.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Thing' });
    expect(op.responses['201']).toEqual({ description: 'Made', content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } });
    // Codes of one status given twice are listed once, in one response.
    expect(op.responses['400']).toMatchObject({
      description: 'Bad Request: `INVALID_CURSOR`, `VALIDATION_FAILED`.',
      content: {
        'application/problem+json': {
          schema: { allOf: [{ $ref: '#/components/schemas/Problem' }, { type: 'object', properties: { code: { type: 'string', enum: ['INVALID_CURSOR', 'VALIDATION_FAILED'] } } }] },
        },
      },
    });
    expect(op.responses['402'].description).toBe('Payment Required: `LEDGER_INSUFFICIENT_CREDITS`.');
    expect(doc.tags).toEqual([{ name: 'uploads', description: expect.any(String) }]);
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Host-imlab_sid' });
  });

  it('says which roles an operation needs, and marks an optional body as not required', () => {
    const op = (app.swagger() as Record<string, any>).paths['/v1/things'].delete; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(op.description).toBe('Drops all.\n\nNeeds a session whose account has the `finance` or `admin` role.');
    expect(op.requestBody.required).toBe(false);
    expect(op).not.toHaveProperty('x-imlab-optional-body');
  });

  it('still validates bodies against a referenced component and answers problems in full', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/things', payload: { name: '' } })).json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    const broke = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'broke' } });
    expect(broke.statusCode).toBe(402);
    expect(broke.headers['content-type']).toMatch(/^application\/problem\+json/);
    // A problem's own fields pass the response schema.
    expect(broke.json()).toMatchObject({ code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall: 3, requestId: expect.any(String) });
    expect((await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'kettle' } })).json()).toEqual({ name: 'kettle' });
    expect((await app.inject({ method: 'DELETE', url: '/v1/things' })).statusCode).toBe(204);
  });

  it('documents a raw body by its media types and hands the route the bytes unvalidated', async () => {
    const op = (app.swagger() as Record<string, any>).paths['/v1/bytes'].post; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(op.requestBody.content).toEqual({ 'image/png': { schema: { type: 'string', format: 'binary' } } });
    expect(op.security).toEqual([]);
    const res = await app.inject({ method: 'POST', url: '/v1/bytes', payload: Buffer.from([0x89, 0x50, 0x4e, 0x47]), headers: { 'content-type': 'image/png' } });
    expect(res.json()).toEqual({ bytes: 4 });
  });
});
