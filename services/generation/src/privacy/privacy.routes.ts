import { Type } from '@sinclair/typebox';
import { requireServiceToken, notFound, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import type { Config } from '../config.js';
import type { ObjectStorage } from '../storage/storage.js';
import { IdParams, ProblemRef } from '../generations/generations.schemas.js';
import { readImageInternal } from '../images/images.service.js';
import { sendImage } from '../images/images.routes.js';
import { findUploads } from '../uploads/uploads.repository.js';
import { exportUser } from './privacy.service.js';

const Binary = Type.Unsafe<Buffer>({ type: 'string', format: 'binary' });

/** Service-to-service routes for the account export; the gateway never forwards /internal/*. */
export function privacyRoutes(app: App, deps: { db: Kysely<DB>; storage: ObjectStorage; config: Config }): void {
  const { db, storage } = deps;
  // auth's export saga, and no one else
  const guard = requireServiceToken('auth');
  app.get(
    '/internal/users/:userId/export',
    { preValidation: guard, schema: { hide: true, params: Type.Object({ userId: Type.String({ format: 'uuid' }) }), response: { 200: Type.Unknown(), 403: ProblemRef } } as object },
    async (req) => exportUser(db, (req.params as { userId: string }).userId),
  );
  for (const variant of ['original', 'thumb'] as const) {
    app.get(
      `/internal/images/:id/${variant}`,
      { preValidation: guard, schema: { hide: true, params: IdParams, response: { 200: Binary, 403: ProblemRef, 404: ProblemRef } } as object },
      async (req, reply) => sendImage(req, reply, await readImageInternal(db, storage, (req.params as { id: string }).id, variant), 'private, no-store'),
    );
  }
  app.get(
    '/internal/uploads/:id',
    { preValidation: guard, schema: { hide: true, params: IdParams, response: { 200: Binary, 403: ProblemRef, 404: ProblemRef } } as object },
    async (req, reply) => {
      const [row] = await findUploads(db, [(req.params as { id: string }).id]);
      const bytes = row ? await storage.get(row.storage_key) : undefined;
      if (!row || !bytes) throw notFound('upload', 'UPLOAD_NOT_FOUND');
      return reply.header('cache-control', 'private, no-store').type(row.mime).send(bytes);
    },
  );
}
