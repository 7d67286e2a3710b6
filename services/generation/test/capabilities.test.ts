import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '@imlab/testing';
import { IMAGE_SIZES, IMAGE_MODEL_IDS, ASPECT_RATIOS } from '@imlab/contracts';
import { startFakeOpenAi } from './support/fake-openai.js';
import { startHarness, type Body, type Harness } from './support/harness.js';

/**
 * The capability table against the OpenAI Images API fake (which refuses what the real API
 * refuses): every size and aspect ratio every tier offers renders; everything else is refused
 * with 422 before anything is held.
 */
let fake: Awaited<ReturnType<typeof startFakeOpenAi>>;
let h: Harness;

beforeAll(async () => {
  fake = await startFakeOpenAi();
  h = await startHarness('capabilities', { IMAGE_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test-fake-key', OPENAI_BASE_URL: fake.baseUrl, RENDER_MAX_ATTEMPTS: '1' });
  await h.startWorker();
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

const tierOf = (options: Body, id: string) => options.tiers.find((t: Body) => t.id === id);

describe('capabilities of the openai provider', () => {
  it('GET /v1/generations/options says what each tier renders: gpt-image sizes, no seed, no negative prompt', async () => {
    const res = await h.api('GET', '/v1/generations/options');
    expect(res.status).toBe(200);
    expect(res.body.tiers.map((t: Body) => t.id)).toEqual(IMAGE_MODEL_IDS);
    const standard = tierOf(res.body, 'imlab-standard');
    expect(standard.sizes).toEqual([
      { size: '1024x1024', width: 1024, height: 1024, creditsPerImage: 2 },
      { size: '1536x1024', width: 1536, height: 1024, creditsPerImage: 3 },
      { size: '1024x1536', width: 1024, height: 1536, creditsPerImage: 3 },
    ]);
    expect(standard.aspectRatios).toEqual({ '1:1': '1024x1024', '3:2': '1536x1024', '2:3': '1024x1536', '16:9': '1536x1024', '9:16': '1024x1536' });
    expect(standard).toMatchObject({ seed: false, negativePrompt: false, maxCount: 4, references: { max: 4, formats: ['image/png', 'image/jpeg', 'image/webp'] } });
    expect(tierOf(res.body, 'imlab-draft').references).toBeNull();
  });

  it('every size and aspect ratio of every tier renders through the fake (none refused as unsupported), with the tier’s model and quality', async () => {
    const options = (await h.api('GET', '/v1/generations/options')).body;
    const user = uuidv7();
    h.ledger.grant(user, 1000);
    const expectedModel: Record<string, { model: string; quality: string }> = {
      'imlab-draft': { model: 'gpt-image-1-mini', quality: 'medium' },
      'imlab-standard': { model: 'gpt-image-1', quality: 'medium' },
      'imlab-pro': { model: 'gpt-image-1', quality: 'high' },
    };
    const made: { id: string; model: string; size: string }[] = [];
    for (const tier of options.tiers) {
      const asks = [...tier.sizes.map((s: Body) => ({ size: s.size })), ...Object.keys(ASPECT_RATIOS).map((aspectRatio) => ({ aspectRatio }))];
      for (const ask of asks) {
        const prompt = `walk ${tier.id} ${JSON.stringify(ask)}`;
        const body = { prompt, model: tier.id, count: 2, ...ask };
        const q = await h.api('POST', '/v1/generations/quote', { user, body });
        expect(q.status, prompt).toBe(200);
        const expectedSize = ask.size ?? tier.aspectRatios[ask.aspectRatio!];
        expect(q.body.size).toBe(expectedSize);
        const res = await h.api('POST', '/v1/generations', { user, body });
        expect(res.status, prompt).toBe(202);
        expect(res.body).toMatchObject({ size: expectedSize, cost: q.body.cost });
        made.push({ id: res.body.id, model: tier.id, size: expectedSize });
      }
    }
    for (const m of made) {
      const g = await h.waitFor(user, m.id, ['succeeded', 'failed'], 30_000);
      expect(g.status, `${m.model} ${m.size}: ${g.errorCode}`).toBe('succeeded');
      expect(`${g.width}x${g.height}`).toBe(m.size);
      expect(g.images).toHaveLength(2);
    }
    const sent = fake.seen.filter((r) => String(r.json?.prompt ?? '').startsWith('walk '));
    expect(sent).toHaveLength(made.length);
    for (const r of sent) {
      const tier = String(r.json!.prompt).split(' ')[1]!;
      expect(r.json).toMatchObject({ ...expectedModel[tier], n: 2 });
      expect(r.json!.seed).toBeUndefined();
    }
  });

  it('a size, seed, negative prompt or count the tier cannot do is refused with 422 naming the field and what it takes, before any hold', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 100);
    const refused: [Body, string, string[]][] = [
      ...IMAGE_SIZES.filter((s) => !['1024x1024', '1536x1024', '1024x1536'].includes(s)).map((size): [Body, string, string[]] => [{ size }, 'size', ['1024x1024', '1536x1024', '1024x1536']]),
      [{ seed: 7 }, 'seed', []],
      [{ negativePrompt: 'fog' }, 'negativePrompt', []],
    ];
    for (const [extra, field, allowed] of refused) {
      for (const path of ['/v1/generations/quote', '/v1/generations']) {
        const res = await h.api('POST', path, { user, body: { prompt: 'a harbour', model: 'imlab-pro', ...extra }, headers: { 'accept-language': 'zh-CN' } });
        expect(res.status, JSON.stringify(extra)).toBe(422);
        expect(res.body).toMatchObject({ code: 'GENERATION_UNSUPPORTED_OPTION', field, allowed, model: 'imlab-pro' });
        expect(res.body.detail).toMatch(/\p{Script=Han}/u);
      }
    }
    const en = await h.api('POST', '/v1/generations', { user, body: { prompt: 'a harbour', size: '512x512' } });
    expect(en.body.detail).toBe('The imlab-standard model cannot take this size; it takes: 1024x1024, 1536x1024, 1024x1536.');
    // Nothing was created or held.
    expect((await h.api('GET', '/v1/generations', { user })).body.items).toEqual([]);
    await eventually(() => h.ledger.balance(user).available === 100);
    expect(h.ledger.balance(user)).toEqual({ available: 100, held: 0, consumed: 0 });
  });
});
