import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, problem, sendProblem } from '@imlab/http';

const FASTIFY_CODES: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'request body is too large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'VALIDATION_FAILED', 'empty JSON body'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'VALIDATION_FAILED', 'content length does not match the body'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'empty content type'],
};

/**
 * The gateway's error handler: problem+json everywhere; messages of 5xx and of unknown errors are
 * replaced, so nothing about upstream addresses or stack traces reaches a client.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      if (err.status === 503 || err.status === 429) reply.header('retry-after', String(err.details?.retryAfter ?? 5));
      const { retryAfter: _r, rateLimit, ...details } = (err.details ?? {}) as Record<string, unknown> & { rateLimit?: { policy: string; state: string } };
      if (rateLimit) reply.header('ratelimit-policy', rateLimit.policy).header('ratelimit', rateLimit.state);
      return sendProblem(reply, problem(err.status, err.code, err.status >= 500 && err.status !== 503 && err.status !== 504 && err.status !== 502 ? 'an internal error occurred' : err.message, details));
    }
    const fe = err as FastifyError;
    if (fe.code && FASTIFY_CODES[fe.code]) {
      const [status, code, detail] = FASTIFY_CODES[fe.code]!;
      return sendProblem(reply, problem(status, code, detail));
    }
    if (fe.validation) return sendProblem(reply, problem(400, 'VALIDATION_FAILED', 'the request is invalid'));
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendProblem(reply, problem(fe.statusCode, fe.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : fe.statusCode === 400 ? 'VALIDATION_FAILED' : 'BAD_REQUEST', 'the request is invalid'));
    }
    request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problem(500, 'INTERNAL', 'an internal error occurred'));
  });
}
