import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '@imlab/testing';
import { IMAGE_MODEL_IDS } from '@imlab/contracts';
import { ComfyUiProvider, ProviderError, loadTierWorkflow, workflowProblems, type ComfyUiTiers, type RenderRequest } from '../src/render/providers/index.js';
import { comfyUiTiersOf, loadGenerationConfig } from '../src/config.js';
import { startFakeComfyUi, type FakeComfyUi } from './support/fake-comfyui.js';
import { startHarness, type Body, type Harness } from './support/harness.js';

let fake: FakeComfyUi;
let tiers: ComfyUiTiers;
const signal = (ms = 10_000) => AbortSignal.timeout(ms);
const base = { negativePrompt: null, model: 'imlab-draft', width: 512, height: 512, count: 1, seed: 7, references: [] };

beforeAll(async () => {
  fake = await startFakeComfyUi({ stepMs: 5 });
  tiers = comfyUiTiersOf({});
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

const provider = (opts: Partial<ConstructorParameters<typeof ComfyUiProvider>[0]> = {}) => new ComfyUiProvider({ baseUrls: [fake.baseUrl], tiers, pollMs: 50, ...opts });
const render = (p: ComfyUiProvider, req: Partial<RenderRequest> & { prompt: string }) => p.render({ ...base, signal: signal(), ...req });

describe('the shipped ComfyUI workflows', () => {
  it('are API-format graphs whose node maps name nodes and inputs that exist', () => {
    for (const id of IMAGE_MODEL_IDS) {
      const t = tiers[id];
      expect(workflowProblems(t), id).toEqual([]);
      const classes = Object.values(t.workflow).map((n) => n.class_type);
      expect(classes).toEqual(expect.arrayContaining(['CheckpointLoaderSimple', 'CLIPTextEncode', 'EmptyLatentImage', 'KSampler', 'VAEDecode', 'PreviewImage']));
      // nothing kept on the GPU box's disk for good: PreviewImage writes to ComfyUI's temp folder
      expect(classes).not.toContain('SaveImage');
    }
    expect(tiers['imlab-draft'].nodes.references).toBeNull();
    expect(tiers['imlab-standard'].nodes.references!.slots).toHaveLength(4);
  });
});

describe('comfyui provider (against a fake speaking the ComfyUI wire format)', () => {
  it('places prompt, negative prompt, seed, size and count by the node map, reports progress from the WebSocket and fetches the images', async () => {
    const progress: number[] = [];
    const images = await render(provider(), { prompt: 'a lighthouse', negativePrompt: 'fog', seed: 4242, width: 768, height: 512, count: 3, model: 'imlab-standard', onProgress: (p) => progress.push(p) });
    expect(images).toHaveLength(3);
    for (const img of images) expect(await sharp(img).metadata()).toMatchObject({ format: 'png', width: 768, height: 512 });
    const sent = fake.seen.at(-1)!.prompt;
    expect(sent['6']!.inputs!.text).toBe('a lighthouse');
    expect(sent['7']!.inputs!.text).toBe('fog');
    expect(sent['3']!.inputs).toMatchObject({ seed: 4242, steps: 25, latent_image: ['5', 0], denoise: 1 });
    expect(sent['5']!.inputs).toEqual({ width: 768, height: 512, batch_size: 3 });
    // No references: the reference nodes are not sent.
    expect(sent['10']).toBeUndefined();
    expect(fake.seen.at(-1)!.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(progress.length).toBeGreaterThan(10);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(100);
    // The job leaves the server's history once its images are fetched: the prompt is not kept there.
    await eventually(() => fake.historyIds().length === 0, 5000);
    // The same seed gives the same images; another seed others.
    const again = await render(provider(), { prompt: 'a lighthouse', negativePrompt: 'fog', seed: 4242, width: 768, height: 512, count: 1, model: 'imlab-standard' });
    expect((await sharp(again[0]!).raw().toBuffer()).equals(await sharp(images[0]!).raw().toBuffer())).toBe(true);
  });

  it('uploads reference images through /upload/image and names them in the LoadImage nodes, the latents blended into the start', async () => {
    const red = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const blue = await sharp({ create: { width: 30, height: 40, channels: 3, background: '#0000ff' } }).jpeg().toBuffer();
    const images = await render(provider(), { prompt: 'in this style', model: 'imlab-pro', count: 2, references: [{ bytes: red, mime: 'image/png' }, { bytes: blue, mime: 'image/jpeg' }] });
    expect(images).toHaveLength(2);
    const sent = fake.seen.at(-1)!.prompt;
    const names = ['10', '11', '12', '13'].map((n) => sent[n]!.inputs!.image as string);
    expect(names[0]).toMatch(/^imlab-[0-9a-f]{32}\.png$/);
    expect(names[1]).toMatch(/^imlab-[0-9a-f]{32}\.jpg$/);
    // Four slots, two references: taken in turn.
    expect(names).toEqual([names[0], names[1], names[0], names[1]]);
    expect(fake.uploads.get(names[0]!)!.equals(red)).toBe(true);
    expect(sent['3']!.inputs).toMatchObject({ latent_image: ['25', 0], denoise: 0.75 });
    expect(sent['25']!.inputs!.amount).toBe(2);
    expect(sent['14']!.inputs).toMatchObject({ width: 512, height: 512 });
  });

  it('the fake refuses what ComfyUI refuses (400 with node_errors); the provider fails at once, naming node and input', async () => {
    const res = await fetch(`${fake.baseUrl}/prompt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: {
          '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'missing.safetensors' } },
          '5': { class_type: 'EmptyLatentImage', inputs: { width: 20000, height: 512, batch_size: 1 } },
          '8': { class_type: 'VAEDecode', inputs: { samples: ['5', 0], vae: ['4', 2] } },
          '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'x' } },
        },
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Body;
    expect(body.error).toMatchObject({ type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation' });
    expect(body.node_errors['5']).toMatchObject({ class_type: 'EmptyLatentImage', dependent_outputs: ['9'], errors: [{ type: 'value_bigger_than_max', extra_info: { input_name: 'width' } }] });
    expect(body.node_errors['4'].errors[0].type).toBe('value_not_in_list');
    const noOutputs = await fetch(`${fake.baseUrl}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: { '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } } } }) });
    expect(((await noOutputs.json()) as Body).error.type).toBe('prompt_no_outputs');

    const refused = await failure(render(provider(), { prompt: 'too wide', width: 16392 }));
    expect(refused).toMatchObject({ code: 'GENERATION_PROVIDER_REJECTED', retryable: false });
    expect(refused.message).toBe('ComfyUI refused the workflow (prompt_outputs_failed_validation): node 5 (EmptyLatentImage): width value_bigger_than_max');
  });

  it('a node failing mid-run is permanent; a restart mid-render, a server that is down or answers garbage are worth another try', async () => {
    const nodeError = await failure(render(provider(), { prompt: 'node-error please' }));
    expect(nodeError).toMatchObject({ code: 'GENERATION_PROVIDER_REJECTED', retryable: false });
    expect(nodeError.message).toBe('ComfyUI node 3 (KSampler) failed: RuntimeError');
    // a failed job's entry goes too
    await eventually(() => fake.historyIds().length === 0, 5000);

    const restarts = fake.restarts;
    const restarted = await failure(render(provider(), { prompt: 'restart-always now' }));
    expect(restarted).toMatchObject({ code: 'GENERATION_PROVIDER_UNAVAILABLE', retryable: true });
    expect(restarted.message).toMatch(/forgot the job/);
    expect(fake.restarts).toBe(restarts + 1);

    const garbage = await failure(render(provider(), { prompt: 'garbage-history' }));
    expect(garbage).toMatchObject({ code: 'GENERATION_PROVIDER_BAD_RESPONSE', retryable: true });

    const other = await startFakeComfyUi();
    await other.down();
    const down = await failure(render(provider({ baseUrls: [other.baseUrl] }), { prompt: 'anyone there' }));
    expect(down).toMatchObject({ code: 'GENERATION_PROVIDER_UNREACHABLE', retryable: true });
    await other.close();
  });

  it('a render past its time is a timeout, and the job is taken off the server', async () => {
    const slow = await startFakeComfyUi({ stepMs: 200 });
    try {
      const err = await failure(render(provider({ baseUrls: [slow.baseUrl] }), { prompt: 'slow', signal: AbortSignal.timeout(700) }));
      expect(err).toMatchObject({ code: 'GENERATION_PROVIDER_TIMEOUT', retryable: true });
      await eventually(async () => {
        const q = (await (await fetch(`${slow.baseUrl}/queue`)).json()) as Body;
        return q.queue_running.length === 0 && q.queue_pending.length === 0;
      }, 5000);
    } finally {
      await slow.close();
    }
  });

  it('spreads renders over several servers, skipping one that is down', async () => {
    const a = await startFakeComfyUi({ stepMs: 20 });
    const b = await startFakeComfyUi({ stepMs: 20 });
    const c = await startFakeComfyUi();
    await c.down();
    try {
      const p = provider({ baseUrls: [a.baseUrl, b.baseUrl, c.baseUrl] });
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => render(p, { prompt: `spread ${i}` })));
      expect(results.every((r) => r.length === 1)).toBe(true);
      expect(a.seen.length).toBeGreaterThan(0);
      expect(b.seen.length).toBeGreaterThan(0);
      expect(a.seen.length + b.seen.length).toBe(6);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

describe('comfyui configuration', () => {
  it('an operator’s workflow file per tier, with its node map beside it, replaces the shipped one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'comfy-wf-'));
    const wf = structuredClone(tiers['imlab-draft'].workflow);
    wf['4']!.inputs.ckpt_name = 'v1-5-pruned-emaonly.safetensors';
    await writeFile(path.join(dir, 'draft.json'), JSON.stringify(wf));
    await writeFile(path.join(dir, 'draft.nodes.json'), JSON.stringify({ ...tiers['imlab-draft'].nodes, model: 'sd15', negativePrompt: undefined, sizes: ['512x512', '768x768'] }));
    const own = loadTierWorkflow('imlab-draft', path.join(dir, 'draft.json'));
    const p = provider({ tiers: { ...tiers, 'imlab-draft': own } });
    expect(p.capabilities.tiers['imlab-draft']).toMatchObject({ providerModel: 'sd15', sizes: ['512x512', '768x768'], negativePrompt: false, seed: true, references: null, progress: true });
    await render(p, { prompt: 'own workflow' });
    expect(fake.seen.at(-1)!.prompt['4']!.inputs!.ckpt_name).toBe('v1-5-pruned-emaonly.safetensors');
  });

  it('start-up refuses, in one message, missing URLs, bad URLs and workflows it cannot use', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'comfy-bad-'));
    await writeFile(path.join(dir, 'pro.json'), JSON.stringify(tiers['imlab-pro'].workflow));
    await writeFile(path.join(dir, 'pro.nodes.json'), JSON.stringify({ ...tiers['imlab-pro'].nodes, seed: [['3', 'noise_seed']] }));
    const env = { NODE_ENV: 'test', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', REDIS_URL: 'redis://127.0.0.1:6379', AUTH_JWKS_URL: 'http://127.0.0.1:1/jwks.json', IMAGE_PROVIDER: 'comfyui' };
    expect(() => loadGenerationConfig(env)).toThrow(/COMFYUI_URLS.*is required when IMAGE_PROVIDER=comfyui/s);
    let message = '';
    try {
      loadGenerationConfig({ ...env, COMFYUI_URLS: 'http://gpu-1:8188,gpu-2:8188', COMFYUI_WORKFLOW_DRAFT: path.join(dir, 'nope.json'), COMFYUI_WORKFLOW_PRO: path.join(dir, 'pro.json') });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('COMFYUI_URLS');
    expect(message).toContain('gpu-2:8188');
    expect(message).toMatch(/COMFYUI_WORKFLOW_DRAFT.*cannot read .*nope\.json \(ENOENT\)/);
    expect(message).toMatch(/COMFYUI_WORKFLOW_PRO.*seed names input noise_seed of node 3 \(KSampler\)/);
    expect(message).not.toContain('COMFYUI_WORKFLOW_STANDARD');
  });
});

/** Progress events and statuses of one generation's event stream, read to its end. */
async function streamOf(h: Harness, user: string, id: string): Promise<{ statuses: string[]; percents: number[]; last: Body }> {
  const res = await fetch(`${h.url}/v1/generations/${id}/events`, { headers: { authorization: `Bearer ${await h.token(user)}` } });
  const blocks = (await res.text()).split('\n\n');
  const data = (b: string) => JSON.parse(b.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as Body;
  const status = blocks.filter((b) => b.split('\n').includes('event: status')).map(data);
  return { statuses: status.map((s) => s.status), percents: blocks.filter((b) => b.split('\n').includes('event: progress')).map((b) => data(b).percent as number), last: status.at(-1) };
}

describe('saga with the comfyui provider', () => {
  let h: Harness;
  let second: FakeComfyUi;
  beforeAll(async () => {
    second = await startFakeComfyUi({ stepMs: 5 });
    h = await startHarness('comfyui', { IMAGE_PROVIDER: 'comfyui', COMFYUI_URLS: `${fake.baseUrl},${second.baseUrl}`, COMFYUI_POLL_MS: '50', RENDER_MAX_ATTEMPTS: '3', RENDER_CONCURRENCY: '4', RENDER_USER_CAP: '4' });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
    await second?.close();
  });

  it('renders with progress events on the event stream, and charges once', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 20);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'a comfy harbour', model: 'imlab-standard', count: 2, size: '768x768', seed: 99, negativePrompt: 'blur' } });
    expect(created.status).toBe(202);
    const stream = await streamOf(h, user, created.body.id);
    expect(stream.statuses.at(-1)).toBe('succeeded');
    expect(stream.last.images).toHaveLength(2);
    expect(stream.percents.length).toBeGreaterThan(3);
    expect(stream.percents).toEqual([...stream.percents].sort((a, b) => a - b));
    const sent = [...fake.seen, ...second.seen].find((s) => s.prompt['6']?.inputs?.text === 'a comfy harbour')!;
    expect(sent.prompt['3']!.inputs!.seed).toBe(99);
    expect(sent.prompt['7']!.inputs!.text).toBe('blur');
    await eventually(() => h.ledger.balance(user).consumed === created.body.cost);
    expect(h.ledger.balance(user)).toEqual({ available: 20 - created.body.cost, held: 0, consumed: created.body.cost });
  });

  it('a node error fails the generation and gives the credits back', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'node-error in the sampler', model: 'imlab-draft' } });
    const g = await h.waitFor(user, created.body.id, ['failed', 'succeeded']);
    expect(g).toMatchObject({ status: 'failed', errorCode: 'GENERATION_PROVIDER_REJECTED', images: [] });
    await eventually(() => h.ledger.balance(user).available === 10);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
  });

  it('a server restarted mid-render: the render is retried and charged once; one that keeps restarting fails and refunds', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const once = await h.api('POST', '/v1/generations', { user, body: { prompt: 'restart-once mid render', model: 'imlab-draft' } });
    const g = await h.waitFor(user, once.body.id, ['failed', 'succeeded'], 30_000);
    expect(g.status).toBe('succeeded');
    expect(g.images).toHaveLength(1);
    // Each server restarts once on this prompt: the render ran two or three times, and was kept once.
    const runs = [...fake.seen, ...second.seen].filter((s) => s.prompt['6']?.inputs?.text === 'restart-once mid render').length;
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThanOrEqual(3);
    await eventually(() => h.ledger.balance(user).consumed === 1);

    const always = await h.api('POST', '/v1/generations', { user, body: { prompt: 'restart-always mid render', model: 'imlab-draft' } });
    const failed = await h.waitFor(user, always.body.id, ['failed', 'succeeded'], 30_000);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'GENERATION_PROVIDER_UNAVAILABLE', images: [] });
    await eventually(() => h.ledger.balance(user).held === 0);
    // Charged for the one with images only.
    expect(h.ledger.balance(user)).toEqual({ available: 9, held: 0, consumed: 1 });
    expect(h.ledger.violations).toEqual([]);
  });

  it('a farm that is down: retried, then failed and refunded, never charged', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    await Promise.all([fake.down(), second.down()]);
    try {
      const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'nobody home', model: 'imlab-draft' } });
      const g = await h.waitFor(user, created.body.id, ['failed', 'succeeded'], 30_000);
      expect(g).toMatchObject({ status: 'failed', errorCode: 'GENERATION_PROVIDER_UNREACHABLE', images: [] });
      await eventually(() => h.ledger.balance(user).available === 10);
      expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
    } finally {
      await Promise.all([fake.up(), second.up()]);
    }
  });

  it('walks the whole capability table: every tier, size, aspect ratio, seed, negative prompt and reference count renders through the fake', async () => {
    const options = (await h.api('GET', '/v1/generations/options')).body;
    const user = uuidv7();
    h.ledger.grant(user, 5000);
    const png = (i: number) => sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 40 * i, g: 170, b: 85 } } }).png().toBuffer();
    const made: { id: string; label: string; size: string; count: number }[] = [];
    for (const tier of options.tiers as Body[]) {
      expect(tier).toMatchObject({ seed: true, negativePrompt: true, progress: true, maxCount: 4 });
      const asks: Body[] = [...tier.sizes.map((s: Body) => ({ size: s.size })), ...Object.keys(tier.aspectRatios).map((aspectRatio) => ({ aspectRatio }))];
      asks.push({ size: tier.sizes[0].size, count: tier.maxCount, seed: 12345, negativePrompt: 'watermark' });
      if (tier.references) {
        const uploads: string[] = [];
        for (let i = 0; i < tier.references.max; i++) uploads.push((await h.api('POST', '/v1/uploads', { user, raw: await png(i), contentType: 'image/png' })).body.id);
        for (let n = 1; n <= tier.references.max; n++) asks.push({ referenceUploadIds: uploads.slice(0, n) });
      }
      for (const ask of asks) {
        const label = `walk ${tier.id} ${JSON.stringify(ask)}`;
        const res = await h.api('POST', '/v1/generations', { user, body: { prompt: label, model: tier.id, count: 1, ...ask } });
        expect(res.status, label).toBe(202);
        made.push({ id: res.body.id, label, size: ask.size ?? tier.aspectRatios[ask.aspectRatio] ?? res.body.size, count: ask.count ?? 1 });
      }
    }
    for (const m of made) {
      const g = await h.waitFor(user, m.id, ['succeeded', 'failed'], 60_000);
      expect(g.status, `${m.label}: ${g.errorCode}`).toBe('succeeded');
      expect(`${g.width}x${g.height}`, m.label).toBe(m.size);
      expect(g.images, m.label).toHaveLength(m.count);
    }
    const sent = [...fake.seen, ...second.seen].filter((s) => String(s.prompt['6']?.inputs?.text ?? '').startsWith('walk '));
    expect(sent).toHaveLength(made.length);
    for (const s of sent) {
      const ask = JSON.parse(String(s.prompt['6']!.inputs!.text).replace(/^walk \S+ /, '')) as Body;
      if (ask.seed) expect(s.prompt['3']!.inputs!.seed).toBe(ask.seed);
      if (ask.negativePrompt) expect(s.prompt['7']!.inputs!.text).toBe(ask.negativePrompt);
      if (ask.referenceUploadIds) expect(s.prompt['10']!.inputs!.image).toMatch(/^imlab-/);
      else expect(s.prompt['10']).toBeUndefined();
    }
    // Both servers took a share.
    expect(fake.seen.length).toBeGreaterThan(0);
    expect(second.seen.length).toBeGreaterThan(0);
  }, 120_000);
});
