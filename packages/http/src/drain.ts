import type { FastifyInstance, FastifyReply } from 'fastify';
import { problem, sendProblem } from './problem.js';
import { requestLocale } from './locale.js';

/**
 * Draining, the same way in every service and the gateway: once close() starts, requests still
 * arriving on open connections get a problem+json 503 with Retry-After (Fastify's own
 * `return503OnClosing` answer is bare JSON with no code, request id or Retry-After), and answers to
 * requests in flight tell keep-alive clients to hang up, so shutdown does not wait for idle sockets
 * until the grace period runs out. Use with `return503OnClosing: false`.
 */
export function useDrainAnswers(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done();
    sendDraining(reply.header('connection', 'close'));
  });
  // Callback style: this runs on every answer of the gateway's hot path, where an async hook costs more.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}

/** The answer of an instance that is shutting down: 503, try again (elsewhere) in a second. */
export function sendDraining(reply: FastifyReply): FastifyReply {
  return sendProblem(reply.header('retry-after', '1'), problem('SERVICE_UNAVAILABLE', requestLocale(reply.request)));
}
