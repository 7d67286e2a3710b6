import type { ProblemBody } from '@imlab/contracts';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export type { ProblemBody };

/**
 * A problem body. A VALIDATION_FAILED always carries the documented `errors` list: when the
 * caller has no field-level errors, one entry for the request as a whole, saying what was wrong.
 */
export function problem(status: number, code: string, detail?: string, extra: Record<string, unknown> = {}): ProblemBody {
  const errors = code === 'VALIDATION_FAILED' && !Array.isArray(extra.errors) ? { errors: [{ path: 'request', message: detail ?? 'is invalid' }] } : {};
  return { type: 'about:blank', title: TITLES[status] ?? 'Error', status, code, ...(detail ? { detail } : {}), ...errors, ...extra };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply
    .code(body.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .send({ ...body, requestId: reply.request.id });
}

const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'VALIDATION_FAILED'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'VALIDATION_FAILED'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
};

/** One error handler: problem+json everywhere, 5xx messages hidden. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      const detail = err.status >= 500 ? 'an internal error occurred' : err.message;
      return sendProblem(reply, problem(err.status, err.code, detail, err.details ?? {}));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const errors = fe.validation.map((v) => ({
        path: `${fe.validationContext ?? 'body'}${v.instancePath || ''}`,
        message: v.message ?? 'is invalid',
      }));
      return sendProblem(reply, problem(400, 'VALIDATION_FAILED', 'the request is invalid', { errors }));
    }
    if (fe.code && FASTIFY_CODES[fe.code]) {
      const [status, code] = FASTIFY_CODES[fe.code]!;
      return sendProblem(reply, problem(status, code, fe.message));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // JSON syntax errors (a forbidden __proto__ key included) and similar client faults from
      // Fastify itself: a 400 is bad input, with the documented code.
      const code = fe.statusCode === 429 ? 'RATE_LIMITED' : fe.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : fe.statusCode === 400 ? 'VALIDATION_FAILED' : 'BAD_REQUEST';
      return sendProblem(reply, problem(fe.statusCode, code, fe.message));
    }
    request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problem(500, 'INTERNAL', 'an internal error occurred'));
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, problem(404, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`)));
}
