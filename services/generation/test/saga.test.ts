import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '@imlab/testing';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('saga', { LOCAL_RENDER_MS: '50' });
  await h.startWorker();
});
afterAll(async () => h?.close());

describe('POST /v1/generations (saga with the ledger)', () => {
  it('holds the credits, renders, stores the images and captures exactly once', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 20);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'a lighthouse at dawn', count: 2, aspectRatio: '1:1', model: 'imlab-standard' } });
    expect(created.status).toBe(202);
    // a free worker may already have started it by the time the answer is written
    expect(created.body).toMatchObject({ status: expect.stringMatching(/^(queued|running)$/), cost: 4 });
    const done = await h.waitFor(user, created.body.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.images).toHaveLength(2);
    await eventually(() => h.ledger.count('capture', created.body.id) === 1);
    expect(h.ledger.balance(user)).toEqual({ available: 16, held: 0, consumed: 4 });
    const img = await h.api('GET', done.images[0].url, { user });
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(h.ledger.violations).toEqual([]);
  });

  it('answers 402 with the shortfall and holds nothing when credits are insufficient', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 3);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'a big painting', count: 4, model: 'imlab-standard' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall: 5, cost: 8 });
    const g = await h.api('GET', `/v1/generations/${res.body.generationId}`, { user });
    expect(g.body.status).toBe('rejected');
    expect(h.ledger.balance(user)).toEqual({ available: 3, held: 0, consumed: 0 });
  });

  it('rejects a prompt that breaks the content policy with 422 naming the rule, and costs nothing', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const reservesBefore = h.ledger.count('reserve');
    for (const prompt of ['a scene of R A P E', 'a sexual assault scene', '一张强奸的图片']) {
      const res = await h.api('POST', '/v1/generations', { user, body: { prompt } });
      expect(res.status, prompt).toBe(422);
      expect(res.body.code).toBe('GENERATION_CONTENT_POLICY');
      expect(res.body.rule).toBe('sexual-violence');
    }
    const list = await h.api('GET', '/v1/generations', { user });
    expect(list.body.items).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.ledger.count('reserve')).toBe(reservesBefore);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
  });

  it('quotes the catalog price without side effects', async () => {
    const user = uuidv7();
    const res = await h.api('POST', '/v1/generations/quote', { user, body: { prompt: 'x', model: 'imlab-pro', aspectRatio: '16:9', count: 3 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ model: 'imlab-pro', size: '1344x768', width: 1344, height: 768, count: 3, creditsPerImage: 4, cost: 12 });
    const large = await h.api('POST', '/v1/generations/quote', { user, body: { prompt: 'x', model: 'imlab-pro', size: '1536x1024' } });
    expect(large.body.cost).toBe(6);
    // What a generation's view says about a missing negative prompt (null) is accepted back; a wrong type is not.
    expect((await h.api('POST', '/v1/generations/quote', { user, body: { prompt: 'x', negativePrompt: null } })).status).toBe(200);
    expect((await h.api('POST', '/v1/generations/quote', { user, body: { prompt: 'x', count: true } })).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await h.api('GET', '/v1/generations', { user })).body.items).toEqual([]);
  });

  it('returns the same generation for a retried Idempotency-Key and refuses the key for another body', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const headers = { 'idempotency-key': 'retry-1' };
    const [a, b] = await Promise.all([
      h.api('POST', '/v1/generations', { user, headers, body: { prompt: 'twin', seed: 7 } }),
      h.api('POST', '/v1/generations', { user, headers, body: { prompt: 'twin', seed: 7 } }),
    ]);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    const other = await h.api('POST', '/v1/generations', { user, headers, body: { prompt: 'different' } });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('GENERATION_IDEMPOTENCY_KEY_REUSED');
    await h.waitFor(user, a.body.id, ['succeeded']);
    await eventually(() => h.ledger.count('capture', a.body.id) === 1);
    expect(h.ledger.count('reserve', a.body.id)).toBe(1);
    expect(h.ledger.balance(user).consumed).toBe(2);
  });

  it('validates the request: bad size, too many images, unknown model, over-long prompt', async () => {
    const user = uuidv7();
    for (const body of [{ prompt: 'x', count: 5 }, { prompt: 'x', model: 'dall-e-9' }, { prompt: 'x', size: '999x999' }, { prompt: '' }, { prompt: 'x', extra: 1 }]) {
      const res = await h.api('POST', '/v1/generations', { user, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    // over the 2,000 characters the schema states: refused by the schema
    const long = await h.api('POST', '/v1/generations', { user, body: { prompt: 'y'.repeat(2001) } });
    expect(long.status).toBe(400);
    expect(long.body.code).toBe('VALIDATION_FAILED');
    expect((await h.api('POST', '/v1/generations', { body: { prompt: 'x' } })).status).toBe(401);
  });
});
