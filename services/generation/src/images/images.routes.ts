import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Page, ref } from '@imlab/contracts';
import { authenticate, binaryContent, errors, operation, refuseSuspended, type App, type SuspensionSource } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { StorageDeletions } from '../storage/deletions.js';
import { IdParams, PageQuery } from '../generations/generations.schemas.js';
import * as images from './images.service.js';
import type { Moderation } from '../moderation/moderation.js';
import type { GenerationMetrics } from '../metrics.js';

const EXAMPLE_IMAGE_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a81';
const Published = Type.Object(
  { id: Type.String({ format: 'uuid' }), published: Type.Boolean() },
  { $id: 'ImagePublication', description: 'Whether the image is in the public gallery now.', examples: [{ id: EXAMPLE_IMAGE_ID, published: true }] },
);
const GalleryImage = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String({ description: 'The PNG.' }),
    thumbUrl: Type.String({ description: 'The WebP thumbnail.' }),
    width: Type.Integer(),
    height: Type.Integer(),
    publishedAt: Type.String({ format: 'date-time' }),
    author: Type.Object({ displayName: Type.Union([Type.String(), Type.Null()], { description: 'null when the author set no display name (a page says "anonymous" in its own language).' }) }),
  },
  { $id: 'GalleryImage', description: 'A published image.' },
);
const GalleryPage = Page('GalleryPage', ref(GalleryImage), {
  description: 'One page of the gallery, newest first.',
  examples: [
    {
      items: [
        {
          id: EXAMPLE_IMAGE_ID,
          url: `/v1/images/${EXAMPLE_IMAGE_ID}`,
          thumbUrl: `/v1/images/${EXAMPLE_IMAGE_ID}/thumb`,
          width: 1024,
          height: 1024,
          publishedAt: '2026-11-03T10:05:00.000Z',
          author: { displayName: 'Mei' },
        },
      ],
      nextCursor: 'MjAyNi0xMS0wM1QxMDowNTowMC4wMDBafDAxOTBhMWIyLWMzZDQtN2U1Zi04YTliLTBjMWQyZTNmNGE4MQ',
    },
  ],
});
/** The image routes' components, registered with the app. */
export const imageSchemas = [Published, GalleryImage, GalleryPage];

const FILES = {
  original: { operationId: 'getImage', mediaType: 'image/png', summary: 'An image (PNG)', what: 'The PNG' },
  thumb: { operationId: 'getImageThumbnail', mediaType: 'image/webp', summary: 'An image\'s thumbnail (WebP)', what: 'The WebP thumbnail' },
} as const;
const imageErrors = { 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 404: ['IMAGE_NOT_FOUND'] } as const;
const publishErrors = { ...imageErrors, 403: ['IMAGE_TAKEN_DOWN', 'ACCOUNT_SUSPENDED'] } as const;
const publication = ref(Published, { description: 'The image and whether it is published' });

/** Signed-in viewer when a token came along; anonymous otherwise (published images only). */
async function viewerOf(req: FastifyRequest, reply: FastifyReply): Promise<images.Viewer | undefined> {
  if (!req.headers.authorization) return undefined;
  await authenticate(req, reply);
  return { id: req.user.sub, roles: req.user.roles };
}

/**
 * What a CDN in front (Cloudflare, or any that honours RFC 9213's CDN-Cache-Control) may keep, apart
 * from what browsers may: a published image's thumbnail is what the gallery shows by the dozen, so
 * the edge keeps it EDGE_THUMB_SECONDS (an image unpublished or deleted can still be served from the
 * edge that long: docs/operations.md "Edge caching"); anything private is never stored by a CDN,
 * whatever its rules say.
 */
export const EDGE_THUMB_SECONDS = 300;

export function sendImage(req: FastifyRequest, reply: FastifyReply, file: images.ImageFile, cache: string, edge?: string) {
  reply.header('etag', file.etag).header('cache-control', cache).header('x-content-type-options', 'nosniff').header('vary', 'authorization');
  if (edge) reply.header('cdn-cache-control', edge);
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.contentType).send(file.bytes);
}

export function imageRoutes(app: App, deps: { db: Kysely<DB>; storage: ObjectStorage; deletions: StorageDeletions; moderation: Moderation; metrics: GenerationMetrics; suspension: SuspensionSource }): void {
  const { db, storage, deletions, moderation, metrics } = deps;
  const notSuspended = refuseSuspended(deps.suspension);
  for (const variant of ['original', 'thumb'] as const) {
    app.get(
      variant === 'original' ? '/v1/images/:id' : '/v1/images/:id/thumb',
      {
        schema: {
          ...operation(FILES[variant].operationId, {
            tag: 'images',
            access: 'optional-session',
            summary: FILES[variant].summary,
            description: `${FILES[variant].what} of an image. Anyone may fetch a published image; an unpublished one only its owner, with their session (anyone else gets 404). Answers carry an \`ETag\`; send it back as \`If-None-Match\` for a 304.`,
          }),
          params: IdParams,
          response: {
            200: {
              description: FILES[variant].what,
              headers: {
                etag: Type.String({ description: 'The bytes\' hash; revalidate with If-None-Match.' }),
                'cache-control': Type.String({ description: '`public, no-cache` once published, `private, no-cache` otherwise.' }),
                'cdn-cache-control': Type.String({
                  description: `For a CDN in front (RFC 9213): \`public, max-age=${EDGE_THUMB_SECONDS}\` for a published image's thumbnail, \`no-store\` for an unpublished image; absent for a published original (the CDN revalidates it like a browser).`,
                }),
              },
              content: binaryContent([FILES[variant].mediaType]),
            },
            304: Type.Null({ description: 'Not modified: the If-None-Match ETag is current' }),
            ...errors(imageErrors, { 500: ['IMAGE_MISSING'] }),
          },
        },
      },
      async (req, reply) => {
        const file = await images.readImage(db, storage, req.params.id, await viewerOf(req, reply), variant);
        // Stored, but revalidated on every use (a cheap 304 through the ETag and the visibility check):
        // an image unpublished or deleted, or whose owner asked for deletion, stops being served at once,
        // by shared caches and by the browser alike.
        const edge = !file.published ? 'no-store' : variant === 'thumb' ? `public, max-age=${EDGE_THUMB_SECONDS}` : undefined;
        return sendImage(req, reply, file, file.published ? 'public, no-cache' : 'private, no-cache', edge);
      },
    );
  }

  app.post(
    '/v1/images/:id/publish',
    {
      preHandler: [authenticate, notSuspended],
      schema: {
        ...operation('publishImage', {
          tag: 'images',
          access: 'session',
          summary: 'Publish an image',
          description:
            "Puts one of the person's images in the public gallery (under their display name). Its prompts are checked again against the content policy as it is now (422 `IMAGE_CONTENT_POLICY` names the rule); with model moderation on, the prompt and the image are checked too, and 503 `MODERATION_UNAVAILABLE` answers while the moderation model cannot (publishing never goes on without it). An image a moderator took down cannot be published again (403 `IMAGE_TAKEN_DOWN`).",
        }),
        params: IdParams,
        response: { 200: publication, ...errors(publishErrors, { 422: ['IMAGE_CONTENT_POLICY'], 500: ['IMAGE_MISSING'], 503: ['MODERATION_UNAVAILABLE'] }) },
      },
    },
    async (req) => ({ id: (await images.publish({ db, storage, moderation, metrics }, req.params.id, req.user.sub)).id, published: true }),
  );
  app.delete(
    '/v1/images/:id/publish',
    {
      preHandler: authenticate,
      schema: {
        ...operation('unpublishImage', { tag: 'images', access: 'session', summary: 'Take an image out of the gallery', description: 'Takes one of the person\'s images out of the public gallery; it is private again at once.' }),
        params: IdParams,
        response: { 200: publication, ...errors(imageErrors) },
      },
    },
    async (req) => ({ id: (await images.setPublished(db, req.params.id, req.user.sub, false)).id, published: false }),
  );
  app.delete(
    '/v1/images/:id',
    {
      preHandler: authenticate,
      schema: {
        ...operation('deleteImage', { tag: 'images', access: 'session', summary: 'Delete an image', description: 'Deletes one of the person\'s images (and its files); it stops being served at once.' }),
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(imageErrors) },
      },
    },
    async (req, reply) => {
      await images.deleteImage(db, deletions, req.params.id, req.user.sub);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/gallery',
    {
      schema: {
        ...operation('listGalleryImages', { tag: 'gallery', access: 'public', summary: 'The public gallery', description: 'Published images of everyone, newest first.' }),
        querystring: PageQuery,
        response: { 200: ref(GalleryPage, { description: 'One page of the gallery' }), ...errors({ 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'] }) },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'public, max-age=15');
      return images.gallery(db, req.query.cursor, req.query.limit ?? 20);
    },
  );
}
