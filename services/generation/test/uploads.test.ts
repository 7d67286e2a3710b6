import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { sql } from '@imlab/db';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;
const user = uuidv7();
beforeAll(async () => {
  h = await startHarness('uploads', { UPLOAD_MAX_BYTES: String(2 * 1024 * 1024), UPLOAD_MAX_PIXELS: String(4096 * 4096) });
  await h.startWorker();
});
afterAll(async () => h?.close());

const upload = (raw: Buffer, contentType = 'image/png', who = user) => h.api('POST', '/v1/uploads', { user: who, raw, contentType });
const countUploads = async () => (await h.ctx.db.selectFrom('uploads').select('id').execute()).length;

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A small, valid PNG file that declares huge dimensions: a decompression bomb's header. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0; // greyscale
  const idat = deflateSync(Buffer.alloc(1 + width), { level: 9 }); // one row; the rest would be zeros
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('POST /v1/uploads', () => {
  it('accepts a JPEG, strips EXIF and GPS, and deduplicates the same bytes per person', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#884422' } })
      .jpeg()
      .withExif({ IFD0: { Make: 'SpyCam', Model: 'X1' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100' } })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).exif).toBeDefined();
    const first = await upload(jpeg, 'application/octet-stream');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ mime: 'image/jpeg', width: 64, height: 48, deduplicated: false });
    // The same bytes later (here: after the first upload's expiry had nearly run out): the answer carries the extended expiry.
    await h.ctx.db.updateTable('uploads').set({ expires_at: new Date(Date.now() + 1000) }).where('id', '=', first.body.id).execute();
    const again = await upload(jpeg, 'image/jpeg');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, deduplicated: true });
    expect(Date.parse(again.body.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
    const other = await upload(jpeg, 'image/jpeg', uuidv7());
    expect(other.body.id).not.toBe(first.body.id);

    const stored = await h.api('GET', `/internal/uploads/${first.body.id}`, { headers: { 'x-imlab-internal-token': await h.issuer.signService('generation') } });
    const meta = await sharp(stored.body).metadata();
    expect(meta.exif).toBeUndefined();
    expect(stored.body.includes(Buffer.from('SpyCam'))).toBe(false);
  });

  it('refuses a text file named .png with 415 and stores nothing', async () => {
    const before = await countUploads();
    const res = await upload(Buffer.from('hello, I am not an image\n'.repeat(10)), 'image/png');
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe('UPLOAD_UNSUPPORTED_TYPE');
    expect(await countUploads()).toBe(before);
  });

  it('refuses a JSON or text body with 415 (not an "empty upload") and stores nothing', async () => {
    const before = await countUploads();
    for (const [raw, contentType] of [[Buffer.from('{}'), 'application/json'], [Buffer.from('some text'), 'text/plain']] as const) {
      const res = await upload(raw, contentType);
      expect(res.status, contentType).toBe(415);
      expect(res.body).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    }
    expect(await countUploads()).toBe(before);
  });

  it('refuses huge declared dimensions (decompression bomb) before decoding', async () => {
    const before = await countUploads();
    const res = await upload(bombPng(30000, 30000));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('UPLOAD_TOO_MANY_PIXELS');
    expect(await countUploads()).toBe(before);
  });

  it('refuses a truncated file', async () => {
    const png = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#00ff00' } }).png({ compressionLevel: 0 }).toBuffer();
    const res = await upload(png.subarray(0, Math.floor(png.length / 2)));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('UPLOAD_UNREADABLE');
  });

  it('a polyglot (PNG with HTML and a ZIP appended) is re-encoded without the payload', async () => {
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const payload = Buffer.concat([Buffer.from('<html><script>alert(document.cookie)</script></html>'), Buffer.from('PK\x03\x04polyglot-zip', 'latin1')]);
    const res = await upload(Buffer.concat([png, payload]));
    expect(res.status).toBe(201);
    const stored = await h.api('GET', `/internal/uploads/${res.body.id}`, { headers: { 'x-imlab-internal-token': await h.issuer.signService('generation') } });
    expect(stored.body.includes(Buffer.from('<script>'))).toBe(false);
    expect(stored.body.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(false);
    // and an HTML document with PNG bytes inside is not an image at all
    const html = await upload(Buffer.concat([Buffer.from('<html>'), png]));
    expect(html.status).toBe(415);
  });

  it('refuses bodies over the size limit with 413, and anonymous uploads with 401', async () => {
    const res = await upload(Buffer.alloc(3 * 1024 * 1024, 1));
    expect(res.status).toBe(413);
    const anon = await h.api('POST', '/v1/uploads', { raw: Buffer.from('x'), contentType: 'image/png' });
    expect(anon.status).toBe(401);
  });

  it('a generation can use an upload as a reference; someone else’s upload is refused', async () => {
    h.ledger.grant(user, 10);
    const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#0000ff' } }).png().toBuffer();
    const up = await upload(png);
    const other = uuidv7();
    h.ledger.grant(other, 10);
    const stolen = await h.api('POST', '/v1/generations', { user: other, body: { prompt: 'use it', referenceUploadIds: [up.body.id] } });
    expect(stolen.status).toBe(422);
    expect(stolen.body.code).toBe('GENERATION_REFERENCE_NOT_FOUND');
    // An upload past its expiry that the sweeper has not removed yet is refused at once, not accepted and failed at render time.
    const expired = await upload(await sharp({ create: { width: 40, height: 40, channels: 3, background: '#00ff00' } }).png().toBuffer());
    await h.ctx.db.updateTable('uploads').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.body.id).execute();
    const late = await h.api('POST', '/v1/generations', { user, body: { prompt: 'use it', referenceUploadIds: [expired.body.id] } });
    expect(late.status).toBe(422);
    expect(late.body.code).toBe('GENERATION_REFERENCE_NOT_FOUND');
    const draft = await h.api('POST', '/v1/generations', { user, body: { prompt: 'use it', model: 'imlab-draft', referenceUploadIds: [up.body.id] } });
    expect(draft.body.code).toBe('GENERATION_REFERENCES_UNSUPPORTED');
    // The same upload twice, in two spellings: a 400 that names the field, nothing created.
    const twice = await h.api('POST', '/v1/generations', { user, body: { prompt: 'use it', referenceUploadIds: [up.body.id, String(up.body.id).toUpperCase()] } });
    expect(twice.status).toBe(400);
    expect(twice.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'body/referenceUploadIds' }] });
    // An id in capitals names the same upload.
    const ok = await h.api('POST', '/v1/generations', { user, body: { prompt: 'use it', referenceUploadIds: [String(up.body.id).toUpperCase()] } });
    expect(ok.status).toBe(202);
    const done = await h.waitFor(user, ok.body.id, ['succeeded']);
    expect(done.referenceUploadIds).toEqual([up.body.id]);
    const row = await h.ctx.db.selectFrom('uploads').select('expires_at').where('id', '=', up.body.id).executeTakeFirstOrThrow();
    expect(row.expires_at).toBeNull();
  });

  it('an object written for an upload whose row never committed is deleted by the sweep after its grace, and a kept one is not', async () => {
    const who = uuidv7();
    const files = async () => (await readdir(path.join(h.storageDir, 'u', who, 'uploads')).catch(() => [] as string[])).map(String);
    const kept = await upload(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0a0b0c' } }).png().toBuffer(), 'image/png', who);
    expect(kept.status).toBe(201);
    // The row's insert fails after the object was written (as a database failing mid-request would).
    const fn = `refuse_upload_${who.replace(/-/g, '')}`;
    await sql.raw(`create function ${fn}() returns trigger language plpgsql as $$ begin raise exception 'insert refused for the test'; end $$`).execute(h.ctx.db);
    await sql.raw(`create trigger ${fn} before insert on uploads for each row when (new.user_id = '${who}') execute function ${fn}()`).execute(h.ctx.db);
    try {
      const lost = await upload(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0d0e0f' } }).png().toBuffer(), 'image/png', who);
      expect(lost.status).toBe(500);
    } finally {
      await sql.raw(`drop trigger ${fn} on uploads`).execute(h.ctx.db);
      await sql.raw(`drop function ${fn}()`).execute(h.ctx.db);
    }
    expect(await files()).toHaveLength(2);
    const records = await h.ctx.db.selectFrom('storage_deletions').selectAll().where('user_id', '=', who).execute();
    expect(records).toHaveLength(1); // the lost one only: the kept upload's record went with its row
    expect(records[0]!.next_attempt_at.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    await h.app.generation.deletions.sweep();
    expect(await files()).toHaveLength(2); // still within its grace

    await h.ctx.db.updateTable('storage_deletions').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('user_id', '=', who).execute();
    await h.app.generation.deletions.sweep();
    const left = await files();
    expect(left).toEqual([path.basename((await h.ctx.db.selectFrom('uploads').select('storage_key').where('id', '=', kept.body.id).executeTakeFirstOrThrow()).storage_key)]);
    expect(await h.ctx.db.selectFrom('storage_deletions').select('key').where('user_id', '=', who).execute()).toEqual([]);
  });

  it('unused uploads expire and their objects are deleted', async () => {
    const { sweepExpiredUploads } = await import('../src/uploads/uploads.service.js');
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#abcdef' } }).png().toBuffer();
    const up = await upload(png);
    const n = await sweepExpiredUploads(h.ctx.db, h.app.generation.deletions, new Date(Date.now() + h.config.UPLOAD_TTL * 1000 + 1000));
    expect(n).toBeGreaterThanOrEqual(1);
    const stored = await h.api('GET', `/internal/uploads/${up.body.id}`, { headers: { 'x-imlab-internal-token': await h.issuer.signService('generation') } });
    expect(stored.status).toBe(404);
  });
});
