// The whole system with the ComfyUI provider: the render worker sends its jobs to two ComfyUI
// fakes that speak the real wire format (HTTP and WebSocket), and the person follows the render's
// progress through the gateway's event stream. Every answer is checked against the API document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, generationEvents, ok, uploadImage } from '@imlab/client';
import { solidPng, startFakeComfyUi, type FakeComfyUi } from '../../services/generation/test/support/fake-comfyui.js';
import { startSystem, type E2E } from './system.js';
import { Browser, signUpVerified, until } from './browser.js';
import { loadContract } from './contract.js';

const e2e = { browser: (ip?: string) => new Browser(() => e2e, ip) } as E2E;
let farm: FakeComfyUi[] = [];

beforeAll(async () => {
  farm = [await startFakeComfyUi({ stepMs: 30 }), await startFakeComfyUi({ stepMs: 30 })];
  e2e.sys = await startSystem('comfyui', {
    IMAGE_PROVIDER: 'comfyui',
    COMFYUI_URLS: farm.map((f) => f.baseUrl).join(','),
    COMFYUI_POLL_MS: '200',
    RENDER_LOCK_MS: '3000',
    RENDER_STALLED_INTERVAL_MS: '1000',
  });
  e2e.contract = await loadContract(e2e.sys.gatewayUrl, { outside: { '/admin/queues': 'the ops queue board, a web page of the gateway' } });
}, 300_000);

afterAll(async () => {
  await e2e.sys?.stop();
  for (const f of farm) await f.close();
});

describe('ComfyUI, end to end through the gateway', () => {
  const person = e2e.browser();
  const balance = async () => ok(person.api.GET('/v1/credits/balance'));

  it('offers what the ComfyUI workflows do: every size, seed, negative prompt, references, progress', async () => {
    await signUpVerified(e2e.sys, person, 'comfy@example.com');
    await until(async () => ((await balance()).available === 40 ? true : undefined), 20_000);
    const options = await ok(person.api.GET('/v1/generations/options'));
    const standard = options.tiers.find((t) => t.id === 'imlab-standard')!;
    expect(standard).toMatchObject({ seed: true, negativePrompt: true, progress: true, references: { max: 4 } });
    expect(standard.sizes.length).toBeGreaterThan(3);
  }, 60_000);

  it('renders with a reference image, the render’s progress on the event stream, charging the quoted cost', async () => {
    const reference = await solidPng(96, 64, { r: 32, g: 96, b: 192 });
    const upload = await uploadImage(person.api, new Uint8Array(reference), 'image/png');
    const body = { prompt: 'a comfy lighthouse', model: 'imlab-standard' as const, size: '768x768' as const, count: 2, seed: 21, negativePrompt: 'text', referenceUploadIds: [upload.id] };
    const quote = await ok(person.api.POST('/v1/generations/quote', { body }));
    const before = (await balance()).available;
    const created = await ok(person.api.POST('/v1/generations', { body }));
    expect(created.cost).toBe(quote.cost);
    const statuses: string[] = [];
    const progress: number[] = [];
    let last;
    for await (const event of generationEvents(created.id, { ...person.options, onProgress: (p) => progress.push(p) })) {
      statuses.push(event.generation.status);
      last = event.generation;
    }
    expect(statuses.at(-1)).toBe('succeeded');
    expect(progress.length).toBeGreaterThan(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(last!.images).toHaveLength(2);
    const png = Buffer.from(await (await download(person.options, last!.images[0]!.url)).arrayBuffer());
    // PNG signature, then IHDR's width and height.
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([768, 768]);
    // The job went to a ComfyUI server with the values in the workflow's nodes and the reference uploaded.
    const sent = farm.flatMap((f) => f.seen).find((s) => s.prompt['6']?.inputs?.text === 'a comfy lighthouse')!;
    expect(sent.prompt['3']!.inputs).toMatchObject({ seed: 21 });
    expect(sent.prompt['7']!.inputs!.text).toBe('text');
    expect(sent.prompt['5']!.inputs).toEqual({ width: 768, height: 768, batch_size: 2 });
    expect(String(sent.prompt['10']!.inputs!.image)).toMatch(/^imlab-[0-9a-f]{32}\.png$/);
    const after = await until(async () => {
      const b = await balance();
      return b.held === 0 ? b : undefined;
    });
    expect(after.available).toBe(before - quote.cost);
  }, 90_000);

  it('a ComfyUI node that fails mid-render fails the generation and gives the credits back', async () => {
    const before = (await balance()).available;
    const created = await ok(person.api.POST('/v1/generations', { body: { prompt: 'node-error in the sampler', model: 'imlab-draft', count: 1 } }));
    const done = await until(async () => {
      const r = await person.api.GET('/v1/generations/{id}', { params: { path: { id: created.id } } });
      return r.data?.status === 'failed' || r.data?.status === 'succeeded' ? r.data : undefined;
    }, 30_000);
    expect(done).toMatchObject({ status: 'failed', errorCode: 'GENERATION_PROVIDER_REJECTED', images: [] });
    const after = await until(async () => {
      const b = await balance();
      return b.held === 0 ? b : undefined;
    });
    expect(after.available).toBe(before);
  }, 60_000);
});

describe('the API document, after all of it', () => {
  it('declared every answer: status, content type, headers and body', () => {
    const { mismatches } = e2e.contract;
    expect([...new Set(mismatches)]).toEqual([]);
  });
});
