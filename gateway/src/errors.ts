import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, codeForFastifyError, problem, requestLocale, sendProblem } from '@imlab/http';

/**
 * The gateway's error handler: problem+json everywhere, in the person's language (the `locale`
 * cookie, the account's locale once the session is resolved, Accept-Language). Details are the
 * registered codes' messages, so nothing about upstream addresses or stack traces reaches a client;
 * what Fastify itself said about a refused request is not passed on either.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    const locale = requestLocale(request);
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      if (err.status === 503 || err.status === 429) reply.header('retry-after', String(err.details?.retryAfter ?? 5));
      const { retryAfter: _r, rateLimit, ...details } = (err.details ?? {}) as Record<string, unknown> & { rateLimit?: { policy: string; state: string } };
      if (rateLimit) reply.header('ratelimit-policy', rateLimit.policy).header('ratelimit', rateLimit.state);
      return sendProblem(reply, problem(err.code, locale, { params: err.params, extra: details, reason: err.message }));
    }
    const code = codeForFastifyError(err as FastifyError);
    if (code === 'INTERNAL') request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problem(code, locale));
  });
}
