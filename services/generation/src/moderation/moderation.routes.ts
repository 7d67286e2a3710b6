import type { FastifyRequest } from 'fastify';
import { INTERNAL_HEADERS, ref } from '@imlab/contracts';
import { AppError, authenticate, errors, operation, requireRole, type App } from '@imlab/http';
import { IdParams } from '../generations/generations.schemas.js';
import { DecisionBody, ImageReportReceipt, ModerationDecision, ModerationQuery, ModerationQueue, ReportBody, TakedownBody } from './moderation.schemas.js';
import * as moderation from './moderation.service.js';

/** The gateway's HMAC of the client address (a direct call without one shares one budget). */
function ipHashOf(req: FastifyRequest): string {
  const v = req.headers[INTERNAL_HEADERS.ipHash];
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : 'unknown';
}

export function moderationRoutes(app: App, deps: moderation.ModerationDeps): void {
  app.post(
    '/v1/images/:id/reports',
    {
      schema: {
        ...operation('reportImage', {
          tag: 'moderation',
          access: 'optional-session',
          summary: 'Report a gallery image',
          description:
            'Anyone may report a published image once (signed in: once per account; signed out: once per network address), with a reason from the fixed list and an optional note. Reports are limited per network address. An image reported by enough different people leaves the gallery until a moderator reviews it.',
        }),
        params: IdParams,
        body: ReportBody,
        response: {
          202: ref(ImageReportReceipt, { description: 'Received' }),
          ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 404: ['IMAGE_NOT_FOUND'], 409: ['IMAGE_ALREADY_REPORTED'], 429: ['IMAGE_REPORT_RATE_LIMITED'] }),
        },
      },
    },
    async (req, reply) => {
      if (req.headers.authorization) await authenticate(req, reply);
      const ipHash = ipHashOf(req);
      try {
        await moderation.report(deps, {
          imageId: req.params.id,
          reporter: req.headers.authorization ? { userId: req.user.sub } : { ipHash },
          ipHash,
          reason: req.body.reason,
          note: req.body.note?.trim() || null,
        });
      } catch (err) {
        if (err instanceof AppError && err.code === 'IMAGE_REPORT_RATE_LIMITED') reply.header('retry-after', String(err.details?.retryAfter ?? 60));
        throw err;
      }
      return reply.code(202).send({ id: req.params.id, received: true as const });
    },
  );

  const preHandler = requireRole('moderator', 'admin');
  const access = { roles: ['moderator', 'admin'] } as const;
  const denied = { 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] } as const;

  app.get(
    '/v1/admin/moderation/images',
    {
      preHandler,
      schema: {
        ...operation('listModerationQueue', {
          tag: 'moderation',
          access,
          summary: 'The review queue',
          description: 'Images with open reports (oldest report first) or, with `status=taken-down`, the images taken down (latest first). Moderators may view these images\' files whatever their state.',
        }),
        querystring: ModerationQuery,
        response: { 200: ref(ModerationQueue, { description: 'One page of the queue' }), ...errors(denied, { 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'] }) },
      },
    },
    async (req) => moderation.queue(deps.db, req.query.status ?? 'open', req.query.cursor, req.query.limit ?? 20),
  );

  const decision = ref(ModerationDecision, { description: 'The image after the decision' });
  const decisionErrors = errors(denied, { 400: ['VALIDATION_FAILED'], 404: ['IMAGE_NOT_FOUND'], 409: ['MODERATION_NOT_APPLICABLE'] });

  app.post(
    '/v1/admin/moderation/images/:id/dismiss',
    {
      preHandler,
      schema: {
        ...operation('dismissImageReports', {
          tag: 'moderation',
          access,
          summary: 'Dismiss an image\'s reports',
          description: 'The open reports were unfounded: they are closed, the image returns to the gallery. The written reason goes to the audit log.',
        }),
        params: IdParams,
        body: DecisionBody,
        response: { 200: decision, ...decisionErrors },
      },
    },
    async (req) => moderation.dismiss(deps, req.user.sub, req.params.id, req.body.reason),
  );
  app.post(
    '/v1/admin/moderation/images/:id/takedown',
    {
      preHandler,
      schema: {
        ...operation('takeDownImage', {
          tag: 'moderation',
          access,
          summary: 'Take an image down',
          description:
            'Unpublishes the image; its owner cannot publish it again until it is restored and is told by email, in their language, which rule it broke. Open reports are closed. The written reason goes to the audit log.',
        }),
        params: IdParams,
        body: TakedownBody,
        response: { 200: decision, ...decisionErrors },
      },
    },
    async (req) => moderation.takeDown(deps, req.user.sub, req.params.id, req.body.rule, req.body.reason),
  );
  app.post(
    '/v1/admin/moderation/images/:id/restore',
    {
      preHandler,
      schema: {
        ...operation('restoreImage', {
          tag: 'moderation',
          access,
          summary: 'Restore a taken-down image',
          description: 'Undoes a takedown: the image is published again. The written reason goes to the audit log.',
        }),
        params: IdParams,
        body: DecisionBody,
        response: { 200: decision, ...decisionErrors },
      },
    },
    async (req) => moderation.restore(deps, req.user.sub, req.params.id, req.body.reason),
  );
}
