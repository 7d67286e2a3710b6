import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { StorageDeletions } from '../storage/deletions.js';
import { IdParams, PageQuery, ProblemRef } from '../generations/generations.schemas.js';
import * as images from './images.service.js';

const Binary = Type.Unsafe<Buffer>({ type: 'string', format: 'binary' });
const Published = Type.Object({ id: Type.String(), published: Type.Boolean() });
const GalleryPage = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      url: Type.String(),
      thumbUrl: Type.String(),
      width: Type.Integer(),
      height: Type.Integer(),
      publishedAt: Type.String(),
      author: Type.Object({ displayName: Type.String() }),
    }),
  ),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** Signed-in viewer when a token came along; anonymous otherwise (published images only). */
async function viewerOf(req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
  if (!req.headers.authorization) return undefined;
  await authenticate(req, reply);
  return req.user.sub;
}

export function sendImage(req: FastifyRequest, reply: FastifyReply, file: images.ImageFile, cache: string) {
  reply.header('etag', file.etag).header('cache-control', cache).header('x-content-type-options', 'nosniff').header('vary', 'authorization');
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.contentType).send(file.bytes);
}

export function imageRoutes(app: App, deps: { db: Kysely<DB>; storage: ObjectStorage; deletions: StorageDeletions }): void {
  const { db, storage, deletions } = deps;
  for (const variant of ['original', 'thumb'] as const) {
    app.get(
      variant === 'original' ? '/v1/images/:id' : '/v1/images/:id/thumb',
      { schema: { tags: ['images'], params: IdParams, response: { 200: Binary, 304: Type.Null(), 401: ProblemRef, 404: ProblemRef } } },
      async (req, reply) => {
        const file = await images.readImage(db, storage, req.params.id, await viewerOf(req, reply), variant);
        // Stored, but revalidated on every use (a cheap 304 through the ETag and the visibility check):
        // an image unpublished or deleted, or whose owner asked for deletion, stops being served at once,
        // by shared caches and by the browser alike.
        return sendImage(req, reply, file, file.published ? 'public, no-cache' : 'private, no-cache');
      },
    );
  }

  app.post(
    '/v1/images/:id/publish',
    { preHandler: authenticate, schema: { tags: ['images'], params: IdParams, response: { 200: Published, 401: ProblemRef, 404: ProblemRef } } },
    async (req) => ({ id: (await images.setPublished(db, req.params.id, req.user.sub, true)).id, published: true }),
  );
  app.delete(
    '/v1/images/:id/publish',
    { preHandler: authenticate, schema: { tags: ['images'], params: IdParams, response: { 200: Published, 401: ProblemRef, 404: ProblemRef } } },
    async (req) => ({ id: (await images.setPublished(db, req.params.id, req.user.sub, false)).id, published: false }),
  );
  app.delete(
    '/v1/images/:id',
    { preHandler: authenticate, schema: { tags: ['images'], params: IdParams, response: { 204: Type.Null(), 401: ProblemRef, 404: ProblemRef } } },
    async (req, reply) => {
      await images.deleteImage(db, deletions, req.params.id, req.user.sub);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/gallery',
    { schema: { tags: ['gallery'], summary: 'Published images, newest first (public)', querystring: PageQuery, response: { 200: GalleryPage, 400: ProblemRef } } },
    async (req, reply) => {
      reply.header('cache-control', 'public, max-age=15');
      return images.gallery(db, req.query.cursor, req.query.limit ?? 20);
    },
  );
}
