import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { authenticate, binaryContent, errors, operation, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import type { Config } from '../config.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { StorageDeletions } from '../storage/deletions.js';
import { storeUpload } from './uploads.service.js';

const Upload = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Pass in `referenceUploadIds` of a generation.' }),
    mime: Type.String({ description: 'What the bytes are: image/png, image/jpeg or image/webp.' }),
    width: Type.Integer(),
    height: Type.Integer(),
    bytes: Type.Integer(),
    deduplicated: Type.Boolean({ description: 'The person had uploaded the same bytes before: that upload is answered (200).' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'An upload no generation used is deleted then.' }),
  },
  {
    $id: 'Upload',
    description: 'A reference image.',
    examples: [{ id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a90', mime: 'image/jpeg', width: 1200, height: 800, bytes: 245760, deduplicated: false, expiresAt: '2026-11-04T10:00:00.000Z' }],
  },
);
/** The upload route's components, registered with the app. */
export const uploadSchemas = [Upload];

const UPLOAD_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'];

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
          ...operation('createUpload', {
            tag: 'uploads',
            access: 'session',
            summary: 'Upload a reference image',
            description: `The body is the image itself (PNG, JPEG or WebP; not multipart), at most ${config.UPLOAD_MAX_BYTES} bytes and ${config.UPLOAD_MAX_PIXELS} pixels, with its \`Content-Type\` (or application/octet-stream): what it is is read from the bytes. Uploading the same bytes again answers the earlier upload (200). Unused uploads expire.`,
          }),
          body: { content: binaryContent(UPLOAD_TYPES, `The image bytes, at most ${config.UPLOAD_MAX_BYTES} bytes.`) },
          response: {
            200: ref(Upload, { description: 'The same bytes were uploaded before: that upload' }),
            201: ref(Upload, { description: 'Stored' }),
            ...errors({
              400: ['UPLOAD_EMPTY'],
              401: ['UNAUTHENTICATED'],
              413: ['PAYLOAD_TOO_LARGE'],
              415: ['UPLOAD_UNSUPPORTED_TYPE', 'UNSUPPORTED_MEDIA_TYPE'],
              422: ['UPLOAD_UNREADABLE', 'UPLOAD_TOO_MANY_PIXELS'],
              503: ['STORAGE_OBJECTS_RECLAIMED'],
            }),
          },
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
