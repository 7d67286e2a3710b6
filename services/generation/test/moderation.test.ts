import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import sharp from 'sharp';
import { eventually } from '@imlab/testing';
import { startHarness, type Harness } from './support/harness.js';
import { FakeModeration } from './support/fake-moderation.js';
import { loadGenerationConfig } from '../src/config.js';

let fake: FakeModeration;
/** Creation fails closed here… */
let closed: Harness;
/** …and open here. */
let open: Harness;

const moderationEnv = (outage: 'open' | 'closed') => ({
  MODERATION_ENABLED: 'true',
  MODERATION_BASE_URL: fake.url,
  MODERATION_API_KEY: fake.apiKey,
  MODERATION_MODEL: 'omni-moderation-latest',
  MODERATION_TIMEOUT_MS: '500',
  MODERATION_CREATE_OUTAGE: outage,
});

beforeAll(async () => {
  fake = await FakeModeration.start();
  closed = await startHarness('moderation_closed', { ...moderationEnv('closed'), LOCAL_RENDER_MS: '20' });
  open = await startHarness('moderation_open', { ...moderationEnv('open'), LOCAL_RENDER_MS: '20' });
  await closed.startWorker();
  await open.startWorker();
});
afterAll(async () => {
  await closed?.close();
  await open?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.mode = 'ok';
  fake.calls = [];
});

const png = (color: string) => sharp({ create: { width: 32, height: 32, channels: 3, background: color } }).png().toBuffer();

async function books(h: Harness, user: string) {
  return { balance: h.ledger.balance(user), reserves: h.ledger.count('reserve'), generations: (await h.api('GET', '/v1/generations', { user })).body.items.length };
}

async function rendered(h: Harness, user: string, prompt = 'a lighthouse in fog') {
  h.ledger.grant(user, 10);
  const created = await h.api('POST', '/v1/generations', { user, body: { prompt } });
  expect(created.status).toBe(202);
  return (await h.waitFor(user, created.body.id, ['succeeded'])).images[0];
}

describe('model moderation when a generation is created', () => {
  it('asks the endpoint in its wire format and goes on when nothing is flagged', async () => {
    const user = uuidv7();
    closed.ledger.grant(user, 10);
    const upload = await closed.api('POST', '/v1/uploads', { user, raw: await png('#2255aa'), contentType: 'image/png' });
    expect(upload.status).toBe(201);
    const res = await closed.api('POST', '/v1/generations', { user, body: { prompt: 'a blue boat', model: 'imlab-standard', referenceUploadIds: [upload.body.id] } });
    expect(res.status).toBe(202);
    expect(fake.calls).toHaveLength(2);
    for (const call of fake.calls) {
      expect(call.authorization).toBe(`Bearer ${fake.apiKey}`);
      expect(call.model).toBe('omni-moderation-latest');
    }
    expect(fake.calls[0]!.input).toBe('a blue boat');
    expect(fake.calls[1]!.input).toEqual([{ type: 'image_url', image_url: { url: expect.stringMatching(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/) } }]);
  });

  it('refuses a flagged prompt with 422 naming the category, before any hold', async () => {
    const user = uuidv7();
    closed.ledger.grant(user, 10);
    const before = await books(closed, user);
    const res = await closed.api('POST', '/v1/generations', { user, body: { prompt: 'a murder scene in a kitchen' } });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'GENERATION_CONTENT_POLICY', rule: 'moderation:violence', field: 'prompt', ruleDescription: { en: 'violent content (automatic moderation)', zh: '暴力内容（自动审核）' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(await books(closed, user)).toEqual(before);
  });

  it('refuses a flagged reference image (field referenceUploadIds), charging nothing', async () => {
    const user = uuidv7();
    closed.ledger.grant(user, 10);
    const upload = await closed.api('POST', '/v1/uploads', { user, raw: await png('#ff0000'), contentType: 'image/png' });
    const before = await books(closed, user);
    const res = await closed.api('POST', '/v1/generations', { user, body: { prompt: 'make it calmer', model: 'imlab-standard', referenceUploadIds: [upload.body.id] }, headers: { cookie: 'locale=zh' } });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'GENERATION_CONTENT_POLICY', rule: 'moderation:violence/graphic', field: 'referenceUploadIds' });
    expect(res.body.detail).toBe('参考图片违反内容政策：血腥暴力内容（自动审核）。');
    await new Promise((r) => setTimeout(r, 100));
    expect(await books(closed, user)).toEqual(before);
  });

  it('never asks the model about a prompt the rules already refuse', async () => {
    const res = await closed.api('POST', '/v1/generations', { user: uuidv7(), body: { prompt: 'n u d e' } });
    expect(res.body.rule).toBe('sexual-explicit');
    expect(fake.calls).toEqual([]);
  });

  describe.each([
    ['down', 'answers 503'],
    ['slow', 'answers after MODERATION_TIMEOUT_MS'],
    ['garbage', 'answers something not in the documented shape'],
  ] as const)('when the endpoint is %s (%s)', (mode, how) => {
    it(`fails closed: 503 MODERATION_UNAVAILABLE, nothing held (the endpoint ${how})`, async () => {
      fake.mode = mode;
      fake.slowMs = 1500;
      const user = uuidv7();
      closed.ledger.grant(user, 10);
      const before = await books(closed, user);
      const res = await closed.api('POST', '/v1/generations', { user, body: { prompt: 'a quiet street' } });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'MODERATION_UNAVAILABLE' });
      await new Promise((r) => setTimeout(r, 100));
      expect(await books(closed, user)).toEqual(before);
    });

    it('fails open when configured so: the generation goes on and is charged', async () => {
      fake.mode = mode;
      fake.slowMs = 1500;
      const user = uuidv7();
      open.ledger.grant(user, 10);
      const res = await open.api('POST', '/v1/generations', { user, body: { prompt: 'a quiet street' } });
      expect(res.status).toBe(202);
      const done = await open.waitFor(user, res.body.id, ['succeeded', 'failed']);
      expect(done.status).toBe('succeeded');
      await eventually(() => open.ledger.balance(user).consumed === done.cost);
    });
  });
});

describe('model moderation when an image is published', () => {
  it('checks the prompt and the image itself, and publishes what passes', async () => {
    const user = uuidv7();
    const image = await rendered(open, user);
    fake.calls = [];
    expect((await open.api('POST', `/v1/images/${image.id}/publish`, { user })).body).toEqual({ id: image.id, published: true });
    expect(fake.calls.map((c) => c.input)).toEqual(['a lighthouse in fog', [{ type: 'image_url', image_url: { url: expect.stringMatching(/^data:image\/png;base64,/) } }]]);
  });

  it('refuses a flagged image (422 IMAGE_CONTENT_POLICY, field image); it never appears in the gallery', async () => {
    const user = uuidv7();
    const image = await rendered(open, user);
    fake.flagImage = async () => true;
    try {
      const res = await open.api('POST', `/v1/images/${image.id}/publish`, { user });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ code: 'IMAGE_CONTENT_POLICY', rule: 'moderation:violence/graphic', field: 'image' });
    } finally {
      fake.flagImage = (await import('./support/fake-moderation.js')).isRed;
    }
    expect((await open.api('GET', '/v1/gallery')).body.items.map((i: { id: string }) => i.id)).not.toContain(image.id);
  });

  it.each(['down', 'slow', 'garbage'] as const)('fails closed while the endpoint is %s, even where creation fails open', async (mode) => {
    const user = uuidv7();
    const image = await rendered(open, user);
    fake.mode = mode;
    fake.slowMs = 1500;
    const res = await open.api('POST', `/v1/images/${image.id}/publish`, { user });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'MODERATION_UNAVAILABLE' });
    expect((await open.api('GET', '/v1/gallery')).body.items.map((i: { id: string }) => i.id)).not.toContain(image.id);
  });
});

describe('moderation configuration', () => {
  const base = { NODE_ENV: 'test', DATABASE_URL: 'postgres://x@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379', AUTH_JWKS_URL: 'http://127.0.0.1:1/jwks' };
  it('is off by default, failing open for creation', () => {
    const config = loadGenerationConfig(base);
    expect(config.MODERATION_ENABLED).toBe(false);
    expect(config.MODERATION_CREATE_OUTAGE).toBe('open');
  });

  it('fails fast naming every bad variable', () => {
    let message = '';
    try {
      loadGenerationConfig({ ...base, MODERATION_ENABLED: 'true', MODERATION_TIMEOUT_MS: '5', MODERATION_CREATE_OUTAGE: 'maybe', MODERATION_BASE_URL: 'not a url' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toBe('');
    for (const name of ['MODERATION_API_KEY', 'MODERATION_TIMEOUT_MS', 'MODERATION_CREATE_OUTAGE', 'MODERATION_BASE_URL']) expect(message).toContain(name);
    // Enabled with a key and sane values: loads.
    expect(loadGenerationConfig({ ...base, MODERATION_ENABLED: 'true', MODERATION_API_KEY: 'k', MODERATION_BASE_URL: 'http://127.0.0.1:9999' }).MODERATION_ENABLED).toBe(true);
  });
});
