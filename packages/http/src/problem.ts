import type { ProblemBody } from '@imlab/contracts';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
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

/**
 * Fastify's `frameworkErrors`: requests its router refuses before any route or hook runs (a path
 * whose percent-encoding is not UTF-8, a path parameter over the router's length limit) get the
 * same problem+json as everything else, with the request id.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  if (error.code === 'FST_ERR_BAD_URL') {
    sendProblem(reply, problem(400, 'VALIDATION_FAILED', 'the path is not valid percent-encoded UTF-8'));
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendProblem(reply, problem(414, 'VALIDATION_FAILED', 'a path segment is too long'));
  } else {
    request.log.error({ err: error }, 'router failed');
    sendProblem(reply, problem(500, 'INTERNAL', 'an internal error occurred'));
  }
}

/**
 * Fastify's `clientErrorHandler`: a connection whose bytes are not an HTTP request Node can parse
 * (malformed, headers over the size limit, too slow) is answered with a problem+json body and
 * closed. No request exists yet, so the request id is made up here. The raw bytes are never logged.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // An answer already under way on this connection (a streamed file): nothing may be spliced into it.
  if ((socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy(err);
    return;
  }
  const [status, code, detail] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'REQUEST_HEADERS_TOO_LARGE', 'the request headers are too large']
        : [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP'];
  this.log.debug({ code: err.code }, 'client error');
  if (socket.writable) {
    const requestId = randomUUID();
    const body = JSON.stringify({ ...problem(status, code, detail), requestId });
    socket.write(
      `HTTP/1.1 ${status} ${TITLES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
