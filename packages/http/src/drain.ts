import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    else if (!request.raw.complete && reply.getHeader('connection') === 'close') drainInsteadOfClosing(request, reply);
    done(null, payload);
  });
}

/** The most of a refused body read and thrown away so that the client can read the answer. */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** How long the rest of a refused body may take to arrive before the connection is cut. */
export const DRAIN_MAX_MS = 10_000;

/**
 * An answer given before the request's body was read (a 413 from its declared length, a 415, a
 * service that answered an upload early) came with `Connection: close`, and Node then destroys the
 * socket as soon as the answer is written. A client still sending its body gets a reset instead
 * of the answer (fetch: EPIPE / "other side closed"), depending on timing. So when the body's
 * declared length is bounded, the connection stays open and the rest of the body is read and
 * discarded after the answer (Node reads the next request only once this one ended); one that
 * does not arrive within DRAIN_MAX_MS has its socket closed. A body of unknown or huge length is
 * still answered with Connection: close.
 */
function drainInsteadOfClosing(request: FastifyRequest, reply: FastifyReply): void {
  const declared = Number(request.headers['content-length']);
  if (!Number.isSafeInteger(declared) || declared > DRAIN_MAX_BYTES) return;
  reply.removeHeader('connection');
  reply.raw.once('finish', () => {
    const incoming = request.raw;
    if (incoming.complete || incoming.destroyed) return;
    const timer = setTimeout(() => incoming.socket?.destroy(), DRAIN_MAX_MS);
    timer.unref();
    incoming.once('close', () => clearTimeout(timer));
    incoming.once('end', () => clearTimeout(timer));
    incoming.resume();
  });
}

/** The answer of an instance that is shutting down: 503, try again (elsewhere) in a second. */
export function sendDraining(reply: FastifyReply): FastifyReply {
  return sendProblem(reply.header('retry-after', '1'), problem('SERVICE_UNAVAILABLE', requestLocale(reply.request)));
}
