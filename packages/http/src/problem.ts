import { errorMessage, problemTitle, STATUS_TITLES, statusOf, type ErrorCode, type ErrorParams, type Locale, type ProblemBody } from '@imlab/contracts';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';
import { requestLocale } from './locale.js';

export type { ProblemBody };

export interface ProblemOptions<C extends ErrorCode> {
  /** The parameters of the code's message. */
  params?: ErrorParams<C> | undefined;
  /** Extra fields (`shortfall`, `retryAfter`, `errors`, …), kept as given. */
  extra?: Record<string, unknown>;
  /** VALIDATION_FAILED without field-level errors: what was wrong with the request as a whole (English, for its `errors` entry). */
  reason?: string;
}

/**
 * A problem body for a registered code: its status, the status phrase as `title` and the code's
 * message as `detail`, both in `locale`. A VALIDATION_FAILED always carries the documented `errors`
 * list: when the caller has no field-level errors, one entry for the request as a whole, saying
 * what was wrong.
 */
export function problem<C extends ErrorCode>(code: C, locale: Locale, opts: ProblemOptions<C> = {}): ProblemBody {
  const status = statusOf(code);
  const detail = errorMessage(code, locale, opts.params ?? undefined);
  const extra = opts.extra ?? {};
  const errors = code === 'VALIDATION_FAILED' && !Array.isArray(extra.errors) ? { errors: [{ path: 'request', message: opts.reason ?? detail }] } : {};
  return { type: 'about:blank', title: problemTitle(status, locale), status, code, detail, ...errors, ...extra };
}

/** The code of each problem answered, for the metrics hook (`imlab_http_problems_total{code}`). */
export const problemCodes = new WeakMap<FastifyRequest, string>();

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  problemCodes.set(reply.request, body.code);
  return reply
    .code(body.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .send({ ...body, requestId: reply.request.id });
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Client errors Fastify or a plugin raise with only a status: the registered code for it (BAD_REQUEST, a 400, for any other). */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'PATH_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'REQUEST_HEADERS_TOO_LARGE',
};

export function codeForClientStatus(status: number): ErrorCode {
  return CODES_BY_STATUS[status] ?? 'BAD_REQUEST';
}

/** A Fastify error that is not an AppError, as the registered code it answers with (INTERNAL when it is no client error). */
export function codeForFastifyError(err: FastifyError): ErrorCode {
  if (err.code && FASTIFY_CODES[err.code]) return FASTIFY_CODES[err.code]!;
  if (err.validation) return 'VALIDATION_FAILED';
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return codeForClientStatus(err.statusCode);
  return 'INTERNAL';
}

/** One error handler: problem+json everywhere, in the person's language; 5xx answers say only their code's generic message. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const locale = requestLocale(request);
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      return sendProblem(reply, problem(err.code, locale, { params: err.params, extra: err.details ?? {}, reason: err.message }));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const errors = fe.validation.map((v) => ({
        path: `${fe.validationContext ?? 'body'}${v.instancePath || ''}`,
        message: v.message ?? 'is invalid',
      }));
      return sendProblem(reply, problem('VALIDATION_FAILED', locale, { extra: { errors } }));
    }
    // JSON syntax errors (a forbidden __proto__ key included) and similar client faults from
    // Fastify itself: a 400 is bad input, with the documented code.
    const code = codeForFastifyError(fe);
    if (code === 'INTERNAL') request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problem(code, locale, code === 'INTERNAL' ? {} : { reason: fe.message }));
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, problem('NOT_FOUND', requestLocale(request))));
}

/**
 * Fastify's `frameworkErrors`: requests its router refuses before any route or hook runs (a path
 * whose percent-encoding is not UTF-8, a path parameter over the router's length limit) get the
 * same problem+json as everything else, with the request id.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const locale = requestLocale(request);
  if (error.code === 'FST_ERR_BAD_URL') {
    sendProblem(reply, problem('VALIDATION_FAILED', locale, { reason: 'the path is not valid percent-encoded UTF-8' }));
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendProblem(reply, problem('PATH_TOO_LONG', locale));
  } else {
    request.log.error({ err: error }, 'router failed');
    sendProblem(reply, problem('INTERNAL', locale));
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
  // Nothing of the request could be read, its Cookie and Accept-Language included: English.
  const code: ErrorCode = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : err.code === 'HPE_HEADER_OVERFLOW' ? 'REQUEST_HEADERS_TOO_LARGE' : 'MALFORMED_REQUEST';
  const status = statusOf(code);
  this.log.debug({ code: err.code }, 'client error');
  if (socket.writable) {
    const requestId = randomUUID();
    const body = JSON.stringify({ ...problem(code, 'en'), requestId });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TITLES[status]!.en}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
