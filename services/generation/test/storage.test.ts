import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { FsStorage, S3Storage, type ObjectStorage } from '../src/storage/storage.js';

// One behaviour, two back ends: the fs folder and S3 (against s3rver, a local S3-compatible server).
let dir: string;
let s3dir: string;
let server: S3rver;
let s3: S3Storage;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'imlab-fs-'));
  s3dir = await mkdtemp(path.join(tmpdir(), 'imlab-s3-'));
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
  const { port } = await server.run();
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
