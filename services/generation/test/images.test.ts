import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { eventually } from '@imlab/testing';
import { startHarness, type Body, type Harness } from './support/harness.js';
import { StorageDeletions } from '../src/storage/deletions.js';

let h: Harness;
const alice = uuidv7();
const bob = uuidv7();
let aliceGen: Body;

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  h = await startHarness('images');
  await h.startWorker();
  h.ledger.grant(alice, 50);
  h.ledger.grant(bob, 50);
  const created = await h.api('POST', '/v1/generations', { user: alice, body: { prompt: 'a red fox in snow', count: 2, size: '512x512', seed: 42 } });
  aliceGen = await h.waitFor(alice, created.body.id, ['succeeded']);
});
afterAll(async () => h?.close());

describe('images', () => {
  it('serves the owner the PNG original and a WebP thumbnail with ETag and private, revalidated caching', async () => {
    const img = aliceGen.images[0];
    const res = await h.api('GET', img.url, { user: alice });
    expect(res.status).toBe(200);
    // Revalidated on every use, so a deleted image is not served from a cache afterwards.
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    // and never stored by a CDN in front (Cloudflare), whatever its cache rules say
    expect(res.headers.get('cdn-cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const meta = await sharp(res.body).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 512, height: 512 });
    expect(meta.exif).toBeUndefined();
    const etag = res.headers.get('etag')!;
    const again = await h.api('GET', img.url, { user: alice, headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const thumb = await h.api('GET', img.thumbUrl, { user: alice });
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(thumb.headers.get('cache-control')).toBe('private, no-cache');
    expect(thumb.headers.get('cdn-cache-control')).toBe('no-store');
    expect((await sharp(thumb.body).metadata()).width).toBeLessThanOrEqual(384);
  });

  it('renders different prompts differently and the same prompt + seed identically', async () => {
    const same = await h.api('POST', '/v1/generations', { user: bob, body: { prompt: 'a red fox in snow', count: 1, size: '512x512', seed: 42 } });
    const other = await h.api('POST', '/v1/generations', { user: bob, body: { prompt: 'a blue whale', count: 1, size: '512x512', seed: 42 } });
    const a = await h.waitFor(bob, same.body.id, ['succeeded']);
    const b = await h.waitFor(bob, other.body.id, ['succeeded']);
    const [pa, pb, orig] = await Promise.all([h.api('GET', a.images[0].url, { user: bob }), h.api('GET', b.images[0].url, { user: bob }), h.api('GET', aliceGen.images[0].url, { user: alice })]);
    expect(Buffer.compare(pa.body, orig.body)).toBe(0);
    const [ra, rb] = await Promise.all([sharp(pa.body).raw().toBuffer(), sharp(pb.body).raw().toBuffer()]);
    let differing = 0;
    for (let i = 0; i < ra.length; i++) if (Math.abs(ra[i]! - rb[i]!) > 16) differing++;
    expect(differing / ra.length).toBeGreaterThan(0.3);
  });

  it('person B cannot read, publish, unpublish, delete or cancel person A’s images and generations', async () => {
    const img = aliceGen.images[0];
    expect((await h.api('GET', `/v1/generations/${aliceGen.id}`, { user: bob })).status).toBe(404);
    expect((await h.api('POST', `/v1/generations/${aliceGen.id}/cancel`, { user: bob })).status).toBe(404);
    expect((await h.api('GET', img.url, { user: bob })).status).toBe(404);
    expect((await h.api('GET', img.thumbUrl, { user: bob })).status).toBe(404);
    expect((await h.api('GET', img.url)).status).toBe(404);
    expect((await h.api('POST', `/v1/images/${img.id}/publish`, { user: bob })).status).toBe(404);
    expect((await h.api('DELETE', `/v1/images/${img.id}/publish`, { user: bob })).status).toBe(404);
    expect((await h.api('DELETE', `/v1/images/${img.id}`, { user: bob })).status).toBe(404);
    const list = await h.api('GET', '/v1/generations', { user: bob });
    expect(list.body.items.map((g: Body) => g.id)).not.toContain(aliceGen.id);
    // and A still has everything
    expect((await h.api('GET', img.url, { user: alice })).status).toBe(200);
    expect((await h.api('GET', `/v1/generations/${aliceGen.id}`, { user: alice })).body.images[0].published).toBe(false);
  });

  it('documents every public route in its OpenAPI document', async () => {
    const doc = await h.api('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    for (const p of ['/v1/generations', '/v1/generations/quote', '/v1/generations/{id}/events', '/v1/images/{id}', '/v1/gallery', '/v1/uploads']) expect(Object.keys(doc.body.paths)).toContain(p);
    expect(Object.keys(doc.body.paths).some((p) => p.startsWith('/internal'))).toBe(false);
  });

  it('a forged or wrong-audience token is refused', async () => {
    const res = await fetch(`${h.url}/v1/generations`, { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(res.status).toBe(401);
    const other = await fetch(`${h.url}/v1/generations/${aliceGen.id}`, { headers: { authorization: `Bearer ${await h.token(alice, 'credits-ledger')}` } });
    expect(other.status).toBe(401);
  });

  it('publishing puts the image in the public gallery with only the display name, newest first, with cursors', async () => {
    await h.ctx.db.insertInto('user_profiles').values({ user_id: alice, display_name: 'Alice A.' }).execute();
    const [first, second] = aliceGen.images;
    expect((await h.api('POST', `/v1/images/${first.id}/publish`, { user: alice })).body).toEqual({ id: first.id, published: true });
    await new Promise((r) => setTimeout(r, 5));
    await h.api('POST', `/v1/images/${second.id}/publish`, { user: alice });
    const page1 = await h.api('GET', '/v1/gallery?limit=1');
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.items[0]).toMatchObject({ id: second.id, author: { displayName: 'Alice A.' } });
    expect(JSON.stringify(page1.body)).not.toContain(alice);
    expect(JSON.stringify(page1.body)).not.toContain('fox');
    const page2 = await h.api('GET', `/v1/gallery?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items[0].id).toBe(first.id);
    // Someone who set no name (auth sends an empty one) shows as anonymous, never as an empty string.
    await h.ctx.db.updateTable('user_profiles').set({ display_name: '' }).where('user_id', '=', alice).execute();
    expect((await h.api('GET', '/v1/gallery?limit=1')).body.items[0].author).toEqual({ displayName: null });
    await h.ctx.db.updateTable('user_profiles').set({ display_name: 'Alice A.' }).where('user_id', '=', alice).execute();
    // anyone can now fetch it, with public caching
    const pub = await h.api('GET', first.url);
    expect(pub.status).toBe(200);
    expect(pub.headers.get('cache-control')).toBe('public, no-cache');
    expect(pub.headers.get('cdn-cache-control')).toBeNull(); // the original: the edge revalidates it
    // the gallery's thumbnails: kept at the edge for a few minutes, revalidated by browsers
    const pubThumb = await h.api('GET', first.thumbUrl);
    expect(pubThumb.headers.get('cache-control')).toBe('public, no-cache');
    expect(pubThumb.headers.get('cdn-cache-control')).toBe('public, max-age=300');
    expect((await h.api('GET', first.url, { user: bob })).status).toBe(200);
    // unpublish hides it again
    await h.api('DELETE', `/v1/images/${first.id}/publish`, { user: alice });
    expect((await h.api('GET', first.url)).status).toBe(404);
    const gallery = await h.api('GET', '/v1/gallery');
    expect(gallery.body.items.map((i: Body) => i.id)).toEqual([second.id]);
    expect((await h.api('GET', '/v1/gallery?cursor=%%%')).status).toBe(400);
    // Cursors that decode to something shaped like an id but not a UUID must not reach Postgres.
    const crafted = Buffer.from(`2025-01-01T00:00:00.000Z|${'a'.repeat(36)}`).toString('base64url');
    expect((await h.api('GET', `/v1/gallery?cursor=${crafted}`)).body).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
    // a date JavaScript parses but Postgres cannot hold (year 5001 BC)
    const ancient = Buffer.from(`-005000-01-01T00:00:00.000Z|${first.id}`).toString('base64url');
    expect((await h.api('GET', `/v1/gallery?cursor=${ancient}`)).body).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
    expect((await h.api('GET', `/v1/generations?cursor=${Buffer.from('-'.repeat(36)).toString('base64url')}`, { user: alice })).body).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
    expect((await h.api('GET', '/v1/gallery?cursor=&limit=5')).status).toBe(200);
    expect((await h.api('GET', '/v1/generations/urn:uuid:01900000-0000-7000-8000-000000000000', { user: alice })).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('deleting an image removes its stored objects too', async () => {
    const before = await files(h.storageDir);
    const img = aliceGen.images[1];
    expect((await h.api('DELETE', `/v1/images/${img.id}`, { user: alice })).status).toBe(204);
    const after = await files(h.storageDir);
    expect(before.length - after.length).toBe(2);
    expect((await h.api('GET', img.url, { user: alice })).status).toBe(404);
    expect((await h.api('GET', '/v1/gallery')).body.items.map((i: Body) => i.id)).not.toContain(img.id);
  });

  it('an image whose stored objects storage failed to delete is gone for the person at once, and the sweep deletes the objects once storage is back', async () => {
    const { storage, deletions } = h.app.generation;
    const img = aliceGen.images[0];
    const before = await files(h.storageDir);
    const down = vi.spyOn(storage, 'delete').mockRejectedValue(new Error('storage unavailable'));
    try {
      expect((await h.api('DELETE', `/v1/images/${img.id}`, { user: alice })).status).toBe(204);
      expect((await h.api('GET', img.url, { user: alice })).status).toBe(404);
      expect((await h.api('DELETE', `/v1/images/${img.id}`, { user: alice })).status).toBe(404);
      expect(await files(h.storageDir)).toEqual(before); // nothing deleted yet
      const recorded = () => h.ctx.db.selectFrom('storage_deletions').selectAll().where('user_id', '=', alice).orderBy('key').execute();
      const keys = (await recorded()).map((r) => r.key);
      expect(keys).toHaveLength(2); // the PNG and its thumbnail
      for (const key of keys) expect(key.startsWith(`u/${alice}/g/${aliceGen.id}/`)).toBe(true);
      expect(await h.app.metricsRegistry.metrics()).toMatch(/^imlab_generation_storage_deletion_failures_total\{service="generation"\} 1$/m);

      // Storage still down: the sweep leaves them recorded and waits before the next try.
      expect(await deletions.sweep()).toEqual({ deleted: 0, failed: 2 });
      const waiting = await recorded();
      expect(waiting.map((r) => r.attempts)).toEqual([1, 1]);
      expect(waiting.every((r) => r.next_attempt_at.getTime() > Date.now() + 20_000)).toBe(true);
      expect(await deletions.sweep()).toEqual({ deleted: 0, failed: 0 }); // not due yet: storage is not asked again
      // The request's try, then the sweep's batch and each object on its own; none since.
      expect(down).toHaveBeenCalledTimes(4);
    } finally {
      down.mockRestore();
    }
    // Storage is back and the retry is due.
    await h.ctx.db.updateTable('storage_deletions').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('user_id', '=', alice).execute();
    expect(await deletions.sweep()).toEqual({ deleted: 2, failed: 0 });
    expect(before.length - (await files(h.storageDir)).length).toBe(2);
    expect(await h.ctx.db.selectFrom('storage_deletions').selectAll().execute()).toEqual([]);
    expect(await h.app.metricsRegistry.metrics()).toMatch(/^imlab_generation_storage_deletions_pending\{service="generation"\} 0$/m);
  });

  it('the sweep deletes what storage accepts when it refuses one object of a batch', async () => {
    const { storage, deletions } = h.app.generation;
    const someone = uuidv7();
    const keys = [0, 1, 2].map(() => `u/${someone}/uploads/${uuidv7()}.png`);
    for (const key of keys) await storage.put(key, Buffer.from('bytes'), 'image/png');
    await h.ctx.db.transaction().execute((tx) => StorageDeletions.request(tx, keys.map((key) => ({ userId: someone, key }))));
    const original = storage.delete.bind(storage);
    const picky = vi.spyOn(storage, 'delete').mockImplementation(async (batch) => {
      if (batch.length > 1 || batch[0] === keys[1]) throw new Error('refused');
      await original(batch);
    });
    try {
      expect(await deletions.sweep()).toEqual({ deleted: 2, failed: 1 });
    } finally {
      picky.mockRestore();
    }
    const left = (await files(path.join(h.storageDir, 'u', someone))).map((f) => path.basename(f));
    expect(left).toEqual([path.basename(keys[1]!)]);
    const records = await h.ctx.db.selectFrom('storage_deletions').select(['key', 'attempts']).where('user_id', '=', someone).execute();
    expect(records).toEqual([{ key: keys[1], attempts: 1 }]);
    await h.ctx.db.updateTable('storage_deletions').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('user_id', '=', someone).execute();
    expect(await deletions.sweep()).toEqual({ deleted: 1, failed: 0 });
    expect(await files(path.join(h.storageDir, 'u', someone))).toEqual([]);
  });

  it('lists generations newest first with a cursor', async () => {
    const p1 = await h.api('GET', '/v1/generations?limit=1', { user: bob });
    expect(p1.body.items).toHaveLength(1);
    const p2 = await h.api('GET', `/v1/generations?limit=1&cursor=${p1.body.nextCursor}`, { user: bob });
    expect(p2.body.items).toHaveLength(1);
    expect(p2.body.items[0].id < p1.body.items[0].id).toBe(true);
    expect(p2.body.nextCursor).toBeNull();
  });
});

describe('privacy', () => {
  it('exports a person’s generations with internal links to every image, behind the internal token', async () => {
    expect((await h.api('GET', `/internal/users/${bob}/export`)).status).toBe(403);
    expect((await h.api('GET', '/internal/users/not-a-uuid/export')).status).toBe(403); // the token first, then the input
    const headers = { 'x-imlab-internal-token': await h.issuer.signService('generation') };
    const res = await h.api('GET', `/internal/users/${bob}/export`, { headers });
    expect(res.status).toBe(200);
    expect(res.body.generations).toHaveLength(2);
    expect(res.body.generations.map((g: Body) => g.prompt).sort()).toEqual(['a blue whale', 'a red fox in snow']);
    const url = res.body.generations[0].images[0].url;
    expect(url).toMatch(/^\/internal\/images\/.+\/original$/);
    const bytes = await h.api('GET', url, { headers });
    expect(bytes.status).toBe(200);
    expect((await sharp(bytes.body).metadata()).format).toBe('png');
    expect((await h.api('GET', url)).status).toBe(403);
  });

  it('user.purge deletes generations, images, uploads and every stored object of the person', async () => {
    const upload = await h.api('POST', '/v1/uploads', { user: bob, raw: await sharp({ create: { width: 32, height: 32, channels: 3, background: '#123456' } }).png().toBuffer(), contentType: 'image/png' });
    expect(upload.status).toBe(201);
    const bobFiles = async () => (await files(h.storageDir)).filter((f) => f.includes(bob));
    expect((await bobFiles()).length).toBeGreaterThan(0);
    // One image deleted while storage was failing: its objects are recorded for the sweep, naming bob.
    const bobImage = (await h.api('GET', '/v1/generations', { user: bob })).body.items[0].images[0];
    const down = vi.spyOn(h.app.generation.storage, 'delete').mockRejectedValue(new Error('storage unavailable'));
    expect((await h.api('DELETE', `/v1/images/${bobImage.id}`, { user: bob })).status).toBe(204);
    down.mockRestore();
    expect(await h.ctx.db.selectFrom('storage_deletions').select('key').where('user_id', '=', bob).execute()).toHaveLength(2);
    await h.ctx.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'user.purge', { userId: bob }));
    await eventually(async () => (await h.api('GET', '/v1/generations', { user: bob })).body.items.length === 0);
    expect(await bobFiles()).toEqual([]);
    const left = await h.ctx.db.selectFrom('uploads').select('id').where('user_id', '=', bob).execute();
    expect(left).toEqual([]);
    // What was recorded of bob's objects is acted on right after the purge, not at the next sweep.
    await eventually(async () => (await h.ctx.db.selectFrom('storage_deletions').select('key').where('user_id', '=', bob).execute()).length === 0, 5000);
    // Alice is untouched
    expect((await h.api('GET', `/v1/generations/${aliceGen.id}`, { user: alice })).status).toBe(200);
  });

  it('keeps the display name from user.registered / user.updated and nothing else', async () => {
    const carol = uuidv7();
    await h.ctx.db.transaction().execute((tx) =>
      h.ctx.bus.send(tx, 'user.registered', { userId: carol, email: 'carol@example.com', locale: 'en', displayName: 'Carol' }),
    );
    await eventually(async () => (await h.ctx.db.selectFrom('user_profiles').selectAll().where('user_id', '=', carol).executeTakeFirst())?.display_name === 'Carol');
    await h.ctx.db.transaction().execute((tx) =>
      h.ctx.bus.send(tx, 'user.updated', { userId: carol, email: 'c@example.com', locale: 'zh', displayName: 'Carol C' }),
    );
    await eventually(async () => (await h.ctx.db.selectFrom('user_profiles').selectAll().where('user_id', '=', carol).executeTakeFirst())?.display_name === 'Carol C');
    const row = await h.ctx.db.selectFrom('user_profiles').selectAll().where('user_id', '=', carol).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('example.com');
  });

  it('takes a person\'s images off the public gallery as soon as they ask to delete their account', async () => {
    const erin = uuidv7();
    h.ledger.grant(erin, 10);
    const created = await h.api('POST', '/v1/generations', { user: erin, body: { prompt: 'a lighthouse at dusk', model: 'imlab-draft' } });
    const g = await h.waitFor(erin, created.body.id, ['succeeded']);
    await h.api('POST', `/v1/images/${g.images[0].id}/publish`, { user: erin });
    const listed = async () => (await h.api('GET', '/v1/gallery?limit=100')).body.items.some((i: Body) => i.id === g.images[0].id);
    expect(await listed()).toBe(true);
    await h.ctx.db.transaction().execute((tx) =>
      h.ctx.bus.send(tx, 'user.deletion-requested', { userId: erin, purgeAfter: new Date(Date.now() + 7 * 86_400_000).toISOString() }),
    );
    await eventually(async () => !(await listed()));
    expect((await h.api('GET', g.images[0].url)).status).toBe(404); // no longer public
  });

  it('keeps the newest display name when profile events are applied out of order, and none after a purge', async () => {
    const dan = uuidv7();
    const profile = () => h.ctx.db.selectFrom('user_profiles').select('display_name').where('user_id', '=', dan).executeTakeFirst();
    // Delivered straight to the inbox queue, newest first, as a retried or slow user.registered would land.
    const deliver = async (name: 'user.registered' | 'user.updated', displayName: string, occurredAt: Date) => {
      const id = uuidv7();
      const job = await h.ctx.bus.queue('generation').add(name, { id, name, payload: { userId: dan, email: 'dan@example.com', locale: 'en', displayName }, occurredAt: occurredAt.toISOString() }, { jobId: id });
      await eventually(async () => (await job.getState()) === 'completed');
    };
    const t0 = Date.now();
    await deliver('user.updated', 'Dan the Renamed', new Date(t0 - 1000));
    await deliver('user.registered', 'Daniel Realname', new Date(t0 - 5000));
    await deliver('user.updated', 'Dan (older edit)', new Date(t0 - 3000));
    expect(await profile()).toEqual({ display_name: 'Dan the Renamed' });

    await h.ctx.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'user.purge', { userId: dan }));
    await eventually(async () => (await profile()) === undefined);
    await deliver('user.updated', 'Dan after purge', new Date());
    expect(await profile()).toBeUndefined();
    const tombstones = await h.ctx.db.selectFrom('purged_user_hashes').select('user_hash').where('user_hash', '=', dan).execute();
    expect(tombstones).toEqual([]); // kept as a hash, never the id
  });
});
