import { Type } from '@sinclair/typebox';
import { authenticate, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import type { Config } from '../config.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { StorageDeletions } from '../storage/deletions.js';
import { ProblemRef } from '../generations/generations.schemas.js';
import { storeUpload } from './uploads.service.js';

const Upload = Type.Object({
  id: Type.String(),
  mime: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  deduplicated: Type.Boolean(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});

/**
 * POST /v1/uploads takes the image bytes as the request body (any of the image types or
 * application/octet-stream); what it is gets decided from the bytes.
 */
export async function uploadRoutes(app: App, deps: { db: Kysely<DB>; storage: ObjectStorage; deletions: StorageDeletions; config: Config }): Promise<void> {
  const { db, storage, deletions, config } = deps;
  await app.register(async (scope) => {
    // Image bytes only: JSON or text here is a 415, not an "empty upload".
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: config.UPLOAD_MAX_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    scope.post(
      '/v1/uploads',
      {
        preHandler: authenticate,
        bodyLimit: config.UPLOAD_MAX_BYTES,
        schema: {
          tags: ['generation'],
          summary: 'Upload a reference image (PNG, JPEG or WebP bytes as the body)',
          response: { 200: Upload, 201: Upload, 400: ProblemRef, 401: ProblemRef, 413: ProblemRef, 415: ProblemRef, 422: ProblemRef },
        },
      },
      async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const { upload, deduplicated } = await storeUpload(db, { storage, deletions }, config, req.user.sub, body);
        reply.code(deduplicated ? 200 : 201);
        return {
          id: upload.id,
          mime: upload.mime,
          width: upload.width,
          height: upload.height,
          bytes: upload.bytes,
          deduplicated,
          expiresAt: upload.expires_at?.toISOString() ?? null,
        };
      },
    );
  });
}
