import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import sharp from 'sharp';
import { eventually } from '@imlab/testing';
import { OpenAiProvider, ProviderError, type OpenAiTiers } from '../src/render/providers/index.js';
import { startFakeOpenAi } from './support/fake-openai.js';
import { startHarness, type Harness } from './support/harness.js';

let fake: Awaited<ReturnType<typeof startFakeOpenAi>>;
let provider: OpenAiProvider;
const base = { negativePrompt: null, model: 'imlab-standard', width: 1024, height: 1024, count: 2, seed: 1, references: [] };
const signal = () => AbortSignal.timeout(5000);
const tiers: OpenAiTiers = {
  'imlab-draft': { model: 'gpt-image-1-mini', quality: 'medium' },
  'imlab-standard': { model: 'gpt-image-1', quality: 'medium' },
  'imlab-pro': { model: 'gpt-image-1', quality: 'high' },
};

beforeAll(async () => {
  fake = await startFakeOpenAi();
  provider = new OpenAiProvider({ apiKey: 'sk-test-fake-key', baseUrl: fake.baseUrl, tiers });
});
afterAll(async () => fake?.close());

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error('expected a provider error');
}

describe('openai provider (against a fake speaking the Images API wire format)', () => {
  it('reads answers within a size cap and fetches images by URL only over https or from the provider itself, never elsewhere', async () => {
    // Over the cap: refused, not read into memory.
    const small = new OpenAiProvider({ apiKey: 'sk-test-fake-key', baseUrl: fake.baseUrl, tiers, maxImageBytes: 1024 });
    expect((await failure(small.render({ ...base, prompt: 'a large harbour', signal: signal() }))).code).toBe('GENERATION_PROVIDER_BAD_RESPONSE');
    // An image URL at an internal address is not fetched.
    const internal = await failure(provider.render({ ...base, count: 1, prompt: 'url-internal', signal: signal() }));
    expect(internal.code).toBe('GENERATION_PROVIDER_BAD_RESPONSE');
    expect(internal.message).toMatch(/not https/);
    // Images by URL on the provider's own origin are downloaded.
    const own = await provider.render({ ...base, count: 2, prompt: 'url-own', signal: signal() });
    expect(own).toHaveLength(2);
    expect(await sharp(own[0]!).metadata()).toMatchObject({ format: 'png', width: 8 });
  });

  it("calls /images/generations with the tier's model and quality, n and size, and decodes b64_json images", async () => {
    const images = await provider.render({ ...base, prompt: 'a harbour', signal: signal() });
    expect(images).toHaveLength(2);
    expect(await sharp(images[0]!).metadata()).toMatchObject({ width: 1024, height: 1024 });
    const req = fake.seen.at(-1)!;
    expect(req.path).toBe('/v1/images/generations');
    expect(req.json).toEqual({ model: 'gpt-image-1', prompt: 'a harbour', n: 2, size: '1024x1024', quality: 'medium' });
    await provider.render({ ...base, model: 'imlab-draft', count: 1, prompt: 'a draft', signal: signal() });
    expect(fake.seen.at(-1)!.json).toMatchObject({ model: 'gpt-image-1-mini', quality: 'medium' });
    await provider.render({ ...base, model: 'imlab-pro', count: 1, prompt: 'a pro', signal: signal() });
    expect(fake.seen.at(-1)!.json).toMatchObject({ model: 'gpt-image-1', quality: 'high' });
  });

  it('the fake refuses what the real API refuses, in its error shape; the provider maps it to a permanent rejection', async () => {
    const post = (json: unknown) =>
      fetch(`${fake.baseUrl}/images/generations`, { method: 'POST', headers: { authorization: 'Bearer sk-test-fake-key', 'content-type': 'application/json' }, body: JSON.stringify(json) });
    const cases: [unknown, { param: string; code: string }][] = [
      [{ model: 'gpt-image-1', prompt: 'x', size: '512x512' }, { param: 'size', code: 'invalid_value' }],
      [{ model: 'gpt-image-1', prompt: 'x', size: '1344x768' }, { param: 'size', code: 'invalid_value' }],
      [{ model: 'dall-e-3', prompt: 'x', n: 2 }, { param: 'n', code: 'integer_above_max_value' }],
      [{ model: 'gpt-image-1', prompt: 'x', seed: 7 }, { param: 'seed', code: 'unknown_parameter' }],
      [{ model: 'gpt-image-1', prompt: 'x', response_format: 'b64_json' }, { param: 'response_format', code: 'unknown_parameter' }],
      [{ model: 'gpt-image-1', prompt: 'x', quality: 'hd' }, { param: 'quality', code: 'invalid_value' }],
      [{ model: 'gpt-image-1' }, { param: 'prompt', code: 'missing_required_parameter' }],
    ];
    for (const [json, expected] of cases) {
      const res = await post(json);
      expect(res.status, JSON.stringify(json)).toBe(400);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(body.error).toMatchObject({ type: 'invalid_request_error', ...expected });
    }
    expect(((await (await post({ model: 'gpt-image-1', prompt: 'x', size: '768x768' })).json()) as { error: { message: string } }).error.message).toBe(
      "Invalid value: '768x768'. Supported values are: '1024x1024', '1536x1024', '1024x1536', and 'auto'.",
    );
    // Asked of the provider directly (the API would have refused it first): a permanent rejection.
    const refused = await failure(provider.render({ ...base, width: 512, height: 512, prompt: 'too small', signal: signal() }));
    expect(refused).toMatchObject({ code: 'GENERATION_PROVIDER_REJECTED', retryable: false });
  });

  it('sends reference images to /images/edits as multipart image[] parts', async () => {
    const ref = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff00ff' } }).png().toBuffer();
    const images = await provider.render({ ...base, count: 1, prompt: 'in this style', references: [{ bytes: ref, mime: 'image/png' }, { bytes: ref, mime: 'image/png' }], signal: signal() });
    expect(images).toHaveLength(1);
    const req = fake.seen.at(-1)!;
    expect(req.path).toBe('/v1/images/edits');
    expect(req.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(req.fields).toEqual({ model: 'gpt-image-1', prompt: 'in this style', n: '1', size: '1024x1024', quality: 'medium' });
    expect(req.files).toEqual([
      { field: 'image[]', type: 'image/png', name: 'reference-0.png', size: ref.length },
      { field: 'image[]', type: 'image/png', name: 'reference-1.png', size: ref.length },
    ]);
  });

  it('maps error bodies: 429 retryable with Retry-After, moderation permanent, 5xx retryable, bad key permanent', async () => {
    const limited = await failure(provider.render({ ...base, prompt: 'rate-limit-once a', signal: signal() }));
    expect(limited).toMatchObject({ code: 'GENERATION_PROVIDER_RATE_LIMITED', retryable: true, retryAfterMs: 1000 });
    const policy = await failure(provider.render({ ...base, prompt: 'moderation', signal: signal() }));
    expect(policy).toMatchObject({ code: 'GENERATION_PROVIDER_POLICY', retryable: false });
    expect(policy.message).not.toContain('safety system'); // the provider's text (it may quote the prompt) stays out
    const down = await failure(provider.render({ ...base, prompt: 'always-500', signal: signal() }));
    expect(down).toMatchObject({ code: 'GENERATION_PROVIDER_UNAVAILABLE', retryable: true, retryAfterMs: undefined });
    const overloaded = await failure(provider.render({ ...base, prompt: 'unavailable-once a', signal: signal() }));
    expect(overloaded).toMatchObject({ code: 'GENERATION_PROVIDER_UNAVAILABLE', retryable: true, retryAfterMs: 1800 });
    const wrongKey = new OpenAiProvider({ apiKey: 'sk-wrong', baseUrl: fake.baseUrl, tiers });
    expect(await failure(wrongKey.render({ ...base, prompt: 'x', signal: signal() }))).toMatchObject({ code: 'GENERATION_PROVIDER_AUTH', retryable: false });
    const timeout = await failure(provider.render({ ...base, prompt: 'slow', signal: AbortSignal.timeout(100) }));
    expect(timeout).toMatchObject({ code: 'GENERATION_PROVIDER_TIMEOUT', retryable: true });
  });
});

describe('saga with the openai provider', () => {
  let h: Harness;
  let workerApp: Awaited<ReturnType<Harness['startWorker']>>['app'];
  beforeAll(async () => {
    h = await startHarness('openai', {
      IMAGE_PROVIDER: 'openai',
      OPENAI_API_KEY: 'sk-test-fake-key',
      OPENAI_BASE_URL: fake.baseUrl,
      RENDER_MAX_ATTEMPTS: '3',
    });
    workerApp = (await h.startWorker()).app;
  });
  afterAll(async () => h?.close());

  it('a permanent provider error fails the generation at once and refunds', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'moderation trigger' } });
    const g = await h.waitFor(user, res.body.id, ['failed']);
    expect(g.errorCode).toBe('GENERATION_PROVIDER_POLICY');
    await eventually(() => h.ledger.balance(user).available === 10);
    expect(h.ledger.count('capture', res.body.id)).toBe(0);
    expect(fake.seen.filter((r) => r.json?.prompt === 'moderation trigger')).toHaveLength(1);
  });

  it('transient errors are retried, then the generation fails and is refunded', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'always-500 here' } });
    const g = await h.waitFor(user, res.body.id, ['failed'], 30_000);
    expect(g.errorCode).toBe('GENERATION_PROVIDER_UNAVAILABLE');
    expect(fake.seen.filter((r) => r.json?.prompt === 'always-500 here')).toHaveLength(3);
    await eventually(() => h.ledger.balance(user).available === 10);
    expect(h.ledger.count('capture', res.body.id)).toBe(0);
    const api = await h.app.metricsRegistry.metrics();
    expect(api).toMatch(/imlab_queue_jobs\{[^}]*queue="generation-render"[^}]*state="waiting"/);
    const worker = await workerApp.metricsRegistry.metrics();
    expect(worker).toMatch(/imlab_generation_provider_errors_total\{[^}]*provider="openai",code="GENERATION_PROVIDER_UNAVAILABLE"[^}]*\} 3/);
    expect(worker).toMatch(/imlab_generation_refunds_total\{[^}]*reason="provider-error"[^}]*\} [12]/);
    expect(worker).toContain('generation_render_duration_seconds_bucket');
  });

  it('a rate limit is retried after its retry-after (not the 500 ms default backoff) and then succeeds, charged once', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'rate-limit-once b' } });
    const g = await h.waitFor(user, res.body.id, ['succeeded'], 30_000);
    expect(g.images).toHaveLength(1);
    const calls = fake.seen.filter((r) => r.json?.prompt === 'rate-limit-once b');
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(calls[1]!.at - calls[0]!.at).toBeLessThan(1000 + 3000);
    await eventually(() => h.ledger.count('capture', res.body.id) === 1);
    expect(h.ledger.balance(user)).toEqual({ available: 8, held: 0, consumed: 2 });
  });

  it('a 503 with retry-after-ms is retried after that wait and then succeeds, charged once', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'unavailable-once b' } });
    const g = await h.waitFor(user, res.body.id, ['succeeded'], 30_000);
    expect(g.images).toHaveLength(1);
    const calls = fake.seen.filter((r) => r.json?.prompt === 'unavailable-once b');
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1800);
    expect(calls[1]!.at - calls[0]!.at).toBeLessThan(1800 + 3000);
    await eventually(() => h.ledger.count('capture', res.body.id) === 1);
    expect(h.ledger.count('capture', res.body.id)).toBe(1);
    expect(h.ledger.count('release', res.body.id)).toBe(0);
    expect(h.ledger.balance(user)).toEqual({ available: 8, held: 0, consumed: 2 });
  });

  it('a server that ignores n and delivers fewer images charges only for the images delivered', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'ignores-n please', model: 'imlab-standard', count: 4 } });
    expect(res.body.cost).toBe(8); // quoted and held: 4 × 2
    const g = await h.waitFor(user, res.body.id, ['succeeded'], 30_000);
    expect(fake.seen.find((r) => r.json?.prompt === 'ignores-n please')?.json?.n).toBe(4);
    expect(g.images).toHaveLength(1);
    expect(g.cost).toBe(2);
    await eventually(() => h.ledger.count('capture', res.body.id) === 1);
    expect(h.ledger.balance(user)).toEqual({ available: 8, held: 0, consumed: 2 });
    expect(h.ledger.violations).toEqual([]);
  });
});
