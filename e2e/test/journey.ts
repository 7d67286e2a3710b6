import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { download, generationEvents, ok, uploadImage } from '@imlab/client';
import { eventually } from '@imlab/testing';
import type { E2E } from './system.js';
import { signUpVerified, until } from './browser.js';

export function journeySuite(e2e: E2E): void {
describe('the whole system, through the gateway', () => {
  const person = e2e.browser();
  const generation = (id: string) => person.api.GET('/v1/generations/{id}', { params: { path: { id } } });
  const balance = async () => ok(person.api.GET('/v1/credits/balance'));

  it('documents in docs/api.md exactly the routes of the merged OpenAPI document', async () => {
    const doc = e2e.contract.document;
    const served = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const table = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');
    const documented = [...table.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(documented).toEqual(served);
  });

  it('signs a person up, verifies the email from the mailbox, and grants the sign-up bonus once', async () => {
    await signUpVerified(e2e.sys, person, 'mei@example.com');
    const me = await person.api.GET('/v1/me');
    expect(me.response.status).toBe(200);
    const granted = await eventually(async () => {
      const r = await person.api.GET('/v1/credits/balance');
      return r.response.status === 200 && r.data?.available === 40 ? r.data : undefined;
    }, 20_000);
    expect(granted).toMatchObject({ available: 40, held: 0 });
  }, 60_000);

  it('turns a prompt into an image, charging exactly the quoted cost', async () => {
    const quote = await person.api.POST('/v1/generations/quote', { body: { prompt: 'a lighthouse in fog, watercolor', count: 1 } });
    expect(quote.response.status).toBe(200);
    const cost = quote.data!.cost;
    const created = await person.api.POST('/v1/generations', { body: { prompt: 'a lighthouse in fog, watercolor', count: 1, seed: 7 } });
    expect(created.response.status).toBe(202);
    expect(created.data!.cost).toBe(cost);
    const done = await until(async () => {
      const r = await generation(created.data!.id);
      return r.data?.status === 'succeeded' ? r.data : undefined;
    }, 30_000);
    expect(done.images).toHaveLength(1);
    const image = await download(person.options, done.images[0]!.url);
    expect(Buffer.from(await image.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    const after = await until(async () => {
      const b = await balance();
      return b.held === 0 ? b : undefined;
    });
    expect(after).toEqual(expect.objectContaining({ available: 40 - cost, held: 0 }));
    const tx = await person.api.GET('/v1/credits/transactions');
    expect(tx.response.status).toBe(200);
  }, 60_000);

  it('answers 402 with the shortfall when credits run out, and holds nothing for it', async () => {
    const big = { prompt: 'a harbour at night, many lanterns', model: 'imlab-pro', size: '1536x1024', count: 4 } as const;
    const quote = await ok(person.api.POST('/v1/generations/quote', { body: big }));
    const available = (await balance()).available;
    expect(quote.cost).toBeLessThanOrEqual(available);
    const first = await person.api.POST('/v1/generations', { body: big });
    expect(first.response.status).toBe(202);
    const second = await person.api.POST('/v1/generations', { body: big });
    expect(second.response.status).toBe(402);
    expect(second.response.headers.get('content-type')).toMatch(/problem\+json/);
    expect(second.error?.shortfall).toBe(quote.cost - (available - quote.cost));
    await eventually(async () => (await generation(first.data!.id)).data?.status === 'succeeded', 60_000);
    const after = await until(async () => {
      const b = await balance();
      return b.held === 0 ? b : undefined;
    });
    expect(after.available).toBe(available - quote.cost);
  }, 90_000);

  it('charges once when the render worker is killed mid-job and a new one takes over', async () => {
    const before = (await balance()).available;
    const created = await person.api.POST('/v1/generations', { body: { prompt: 'a kite over the sea at dawn', count: 1, seed: 3 } });
    expect(created.response.status).toBe(202);
    const { id, cost } = created.data!;
    await eventually(async () => (await generation(id)).data?.status === 'running', 20_000);
    await e2e.sys.kill('render-worker', 'SIGKILL');
    await e2e.sys.start('render-worker');
    const done = await until(async () => {
      const r = await generation(id);
      return r.data && ['succeeded', 'failed'].includes(r.data.status) ? r.data : undefined;
    }, 60_000);
    const after = await until(async () => {
      const b = await balance();
      return b.held === 0 ? b : undefined;
    }, 30_000);
    expect(after.available).toBe(done.status === 'succeeded' ? before - cost : before);
  }, 120_000);

  it('renders with an uploaded reference image, followed over the event stream', async () => {
    const list = await ok(person.api.GET('/v1/generations'));
    const earlier = list.items.find((g) => g.status === 'succeeded')!.images[0]!;
    const png = await download(person.options, earlier.url);
    const upload = await uploadImage(person.api, await png.arrayBuffer(), 'image/png');
    const created = await ok(person.api.POST('/v1/generations', { body: { prompt: 'the same lighthouse, at dusk', count: 1, seed: 5, referenceUploadIds: [upload.id] } }));
    const statuses: string[] = [];
    const progress: number[] = [];
    let last;
    for await (const event of generationEvents(created.id, { ...person.options, onProgress: (p) => progress.push(p) })) {
      statuses.push(event.generation.status);
      last = event.generation;
    }
    expect(statuses.at(-1)).toBe('succeeded');
    expect(new Set(statuses).size).toBe(statuses.length); // each status once
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(last!.images).toHaveLength(1);
  }, 60_000);

  it('publishes to the public gallery, which shows no owner data beyond the display name', async () => {
    const list = await ok(person.api.GET('/v1/generations'));
    const image = list.items.find((g) => g.status === 'succeeded')!.images[0]!;
    expect((await person.api.POST('/v1/images/{id}/publish', { params: { path: { id: image.id } } })).response.status).toBeLessThan(300);
    const anonymous = e2e.browser();
    const gallery = await anonymous.api.GET('/v1/gallery');
    expect(gallery.response.status).toBe(200);
    const text = JSON.stringify(gallery.data);
    expect(text).toContain(image.id);
    expect(text).not.toContain('mei@example.com');
  }, 30_000);

  it('keeps another person out of the first one\'s images and generations', async () => {
    const other = e2e.browser();
    await signUpVerified(e2e.sys, other, 'oscar@example.com');
    const list = await ok(person.api.GET('/v1/generations'));
    const gen = list.items[0]!;
    expect((await other.api.GET('/v1/generations/{id}', { params: { path: { id: gen.id } } })).response.status).toBe(404);
    expect((await other.api.DELETE('/v1/images/{id}', { params: { path: { id: gen.images[0]?.id ?? gen.id } } })).response.status).toBe(404);
  }, 60_000);

  it('refuses cookie-authenticated writes from a foreign origin', async () => {
    // the person's own session cookie, sent from a page of another site
    const res = await person.api.POST('/v1/generations', { body: { prompt: 'csrf' }, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(res.response.status).toBe(403);
  });

});
}
