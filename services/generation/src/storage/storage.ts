import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  HeadBucketCommand,
  NoSuchKey,
} from '@aws-sdk/client-s3';

/**
 * Where image bytes live. Keys are made by this service only (`u/<user>/...`), so a person's
 * objects can be removed by prefix when the account is purged.
 */
export interface ObjectStorage {
  readonly kind: 'fs' | 's3';
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** undefined when the object does not exist. */
  get(key: string): Promise<Buffer | undefined>;
  delete(keys: string[]): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
  ping(): Promise<void>;
}

const KEY = /^[a-z0-9][a-z0-9/_.-]*$/i;

function checkKey(key: string): string {
  // Keys never come from people, but a path escape here would be a disaster: refuse anything odd.
  if (!KEY.test(key) || key.split('/').some((part) => part === '..' || part === '.' || part === '')) throw new Error(`invalid storage key "${key}"`);
  return key;
}

export class FsStorage implements ObjectStorage {
  readonly kind = 'fs' as const;
  private readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }
  private file(key: string): string {
    return path.join(this.root, checkKey(key));
  }
  async put(key: string, body: Buffer): Promise<void> {
    const target = this.file(key);
    await mkdir(path.dirname(target), { recursive: true });
    // Write then rename: a reader never sees half an image, a crash leaves only a temp file.
    const tmp = `${target}.${randomUUID()}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, target);
  }
  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
  async delete(keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => rm(this.file(k), { force: true })));
  }
  async deletePrefix(prefix: string): Promise<void> {
    await rm(path.join(this.root, checkKey(prefix.replace(/\/+$/, ''))), { recursive: true, force: true });
  }
  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }
}

export interface S3Options {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** R2 (and other S3-compatible stores): send checksums only where the operation requires one. */
  checksumsWhenRequired?: boolean;
  /** Each attempt's limit (S3_TIMEOUT_MS); the SDK's own default is to wait forever. */
  requestTimeoutMs?: number;
}

/** S3-compatible storage (AWS, Cloudflare R2, MinIO, ...). */
export class S3Storage implements ObjectStorage {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private readonly opts: S3Options;
  constructor(opts: S3Options) {
    this.opts = opts;
    this.client = new S3Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      // A store that accepts the connection and never answers must not hold a render, a request or
      // a purge for ever: each attempt gives up (the SDK retries up to 3 times, then it fails).
      // (without throwOnRequestTimeout the SDK only logs a warning when the limit passes and waits on)
      requestHandler: { connectionTimeout: 5000, requestTimeout: opts.requestTimeoutMs ?? 30_000, throwOnRequestTimeout: true },
      // Checksums only where the API demands one (DeleteObjects): what Cloudflare R2 asks of clients
      // whose defaults add newer checksum headers it may refuse.
      ...(opts.checksumsWhenRequired ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
    });
  }
  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: checkKey(key), Body: body, ContentType: contentType }));
  }
  async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: checkKey(key) }));
      if (!out.Body) return undefined;
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }
  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000).map((k) => ({ Key: checkKey(k) }));
      if (!chunk.length) continue;
      const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.opts.bucket, Delete: { Objects: chunk, Quiet: true } }));
      // S3 answers 200 and lists the keys it could not delete: a purge must not be recorded as done.
      if (out.Errors?.length) {
        const first = out.Errors[0]!;
        throw new Error(`storage: ${out.Errors.length} of ${chunk.length} objects were not deleted (${first.Code ?? 'error'}: ${first.Message ?? 'no message'})`);
      }
    }
  }
  async deletePrefix(prefix: string): Promise<void> {
    const p = checkKey(prefix.replace(/\/+$/, '')) + '/';
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: p, ContinuationToken: token }));
      await this.delete((page.Contents ?? []).map((o) => o.Key!).filter(Boolean));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
  }
}

/** Cloudflare R2's S3 API: `https://<account id>.r2.cloudflarestorage.com` (optionally `.eu.` or `.fedramp.`). */
export function isR2Endpoint(endpoint: string): boolean {
  try {
    return new URL(endpoint).hostname.endsWith('.r2.cloudflarestorage.com');
  } catch {
    return false;
  }
}

export function createStorage(config: {
  STORAGE: string;
  STORAGE_DIR: string;
  S3_ENDPOINT: string;
  S3_REGION: string;
  S3_BUCKET: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
  S3_FORCE_PATH_STYLE: string;
  S3_TIMEOUT_MS?: number;
}): ObjectStorage {
  if (config.STORAGE === 's3') {
    return new S3Storage({
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      region: config.S3_REGION,
      bucket: config.S3_BUCKET,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE === 'true',
      checksumsWhenRequired: isR2Endpoint(config.S3_ENDPOINT),
      ...(config.S3_TIMEOUT_MS ? { requestTimeoutMs: config.S3_TIMEOUT_MS } : {}),
    });
  }
  return new FsStorage(config.STORAGE_DIR);
}

/** Key layout: everything of a person under one prefix. */
export const keys = {
  userPrefix: (userId: string) => `u/${userId}`,
  image: (userId: string, generationId: string, lease: string, idx: number) => `u/${userId}/g/${generationId}/${lease}/${idx}.png`,
  thumb: (userId: string, generationId: string, lease: string, idx: number) => `u/${userId}/g/${generationId}/${lease}/${idx}.thumb.webp`,
  generationPrefix: (userId: string, generationId: string) => `u/${userId}/g/${generationId}`,
  upload: (userId: string, uploadId: string, ext: string) => `u/${userId}/uploads/${uploadId}.${ext}`,
};
