import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createServer, request as httpRequest } from 'node:http';
import { FsStorage, S3Storage, createStorage, isR2Endpoint, type ObjectStorage } from '../src/storage/storage.js';

// One behaviour, two back ends: the fs folder and S3 (against s3rver, a local S3-compatible server).
let dir: string;
let s3dir: string;
let server: S3rver;
let s3: S3Storage;
let s3Port = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'imlab-fs-'));
  s3dir = await mkdtemp(path.join(tmpdir(), 'imlab-s3-'));
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
  const { port } = await server.run();
  s3Port = port;
  s3 = new S3Storage({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    bucket: 'imlab-test',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  });
  await s3.client.send(new CreateBucketCommand({ Bucket: 'imlab-test' }));
});
afterAll(async () => {
  s3?.client.destroy();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
  await rm(s3dir, { recursive: true, force: true });
});

const backends: [string, () => ObjectStorage][] = [
  ['fs', () => new FsStorage(dir)],
  ['s3', () => s3],
];

describe.each(backends)('%s storage', (_name, make) => {
  it('puts, gets, deletes and deletes by prefix', async () => {
    const st = make();
    await st.ping();
    const a = Buffer.from('first object');
    await st.put('u/one/g/x/a.png', a, 'image/png');
    await st.put('u/one/g/x/b.png', Buffer.from('second'), 'image/png');
    await st.put('u/two/keep.png', Buffer.from('other person'), 'image/png');
    expect(await st.get('u/one/g/x/a.png')).toEqual(a);
    expect(await st.get('u/one/missing.png')).toBeUndefined();
    await st.delete(['u/one/g/x/a.png']);
    expect(await st.get('u/one/g/x/a.png')).toBeUndefined();
    await st.deletePrefix('u/one');
    expect(await st.get('u/one/g/x/b.png')).toBeUndefined();
    expect((await st.get('u/two/keep.png'))?.toString()).toBe('other person');
  });

  it('refuses keys that could escape their place', async () => {
    const st = make();
    await expect(st.put('../etc/passwd', Buffer.from('x'), 'text/plain')).rejects.toThrow(/invalid storage key/);
    await expect(st.get('u/../../x')).rejects.toThrow(/invalid storage key/);
    await expect(st.deletePrefix('/')).rejects.toThrow(/invalid storage key/);
  });
});

describe('an S3 store that hangs', () => {
  it('fails each call after S3_TIMEOUT_MS per attempt instead of waiting for ever', async () => {
    // accepts connections and reads requests, never answers
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const hung = new S3Storage({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's', forcePathStyle: true, requestTimeoutMs: 300 });
    const started = Date.now();
    try {
      await expect(hung.get('u/x/a.png')).rejects.toThrow();
      await expect(hung.put('u/x/a.png', Buffer.from('x'), 'image/png')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      hung.client.destroy();
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  }, 30_000);
});

describe('S3 deletes that S3 partly refuses', () => {
  it('fails (so a purge is retried) when DeleteObjects answers 200 with per-key errors', async () => {
    const { createServer } = await import('node:http');
    // What S3 sends when some keys could not be deleted (InternalError, SlowDown, object lock): HTTP 200, an <Error> per key.
    const fake = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
            '<Error><Key>u/1/g/2/a.png</Key><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error></DeleteResult>',
        );
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const store = new S3Storage({ endpoint: `http://127.0.0.1:${(fake.address() as { port: number }).port}`, region: 'us-east-1', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's', forcePathStyle: true });
    try {
      await expect(store.delete(['u/1/g/2/a.png', 'u/1/g/2/b.png'])).rejects.toThrow(/1 of 2 objects were not deleted \(InternalError/);
    } finally {
      store.client.destroy();
      await new Promise((r) => fake.close(r));
    }
  });
});

describe('Cloudflare R2 through the S3 driver', () => {
  const r2Settings = {
    STORAGE: 's3',
    STORAGE_DIR: '',
    S3_ENDPOINT: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com',
    S3_REGION: 'auto',
    S3_BUCKET: 'imagemakerlab-images',
    S3_ACCESS_KEY_ID: 'r2-key-id',
    S3_SECRET_ACCESS_KEY: 'r2-secret',
    S3_FORCE_PATH_STYLE: 'true',
  };

  it("configures R2's settings from docs/operations.md: region auto, path-style, checksums only where required", async () => {
    expect(isR2Endpoint(r2Settings.S3_ENDPOINT)).toBe(true);
    expect(isR2Endpoint('https://s3.eu-west-1.amazonaws.com')).toBe(false);
    const store = createStorage(r2Settings) as S3Storage;
    try {
      expect(await store.client.config.region()).toBe('auto');
      expect(store.client.config.forcePathStyle).toBe(true);
      expect(await store.client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      expect(await store.client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
      const aws = createStorage({ ...r2Settings, S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com' }) as S3Storage;
      expect(await aws.client.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
      aws.client.destroy();
    } finally {
      store.client.destroy();
    }
  });

  it('stores, reads and deletes with those settings against an S3-compatible server, sending no optional checksum', async () => {
    // A recording proxy in front of s3rver: what the driver sends is what R2 would receive.
    const seen: { method: string; url: string; headers: Record<string, unknown> }[] = [];
    const proxy = createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      const upstream = httpRequest({ host: '127.0.0.1', port: s3Port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const store = new S3Storage({
      endpoint: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
      region: 'auto',
      bucket: 'imlab-test',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
      checksumsWhenRequired: true,
    });
    try {
      await store.ping();
      await store.put('u/r2/g/x/a.png', Buffer.from('on R2'), 'image/png');
      expect((await store.get('u/r2/g/x/a.png'))?.toString()).toBe('on R2');
      await store.deletePrefix('u/r2');
      expect(await store.get('u/r2/g/x/a.png')).toBeUndefined();
      const put = seen.find((r) => r.method === 'PUT')!;
      expect(put.url.split('?')[0]).toBe('/imlab-test/u/r2/g/x/a.png'); // path-style
      expect(Object.keys(put.headers).filter((h) => h.startsWith('x-amz-checksum-') || h === 'x-amz-sdk-checksum-algorithm' || h === 'x-amz-trailer')).toEqual([]);
      expect(String(put.headers.authorization)).toContain('/auto/s3/aws4_request'); // signed for region auto
    } finally {
      store.client.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });
});
