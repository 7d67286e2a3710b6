import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';

/**
 * True when a string anywhere in the parsed JSON document (key or value) holds U+0000. Postgres
 * text cannot store it: such input would fail deep inside a handler (a 500, or a silently failed
 * background write) instead of being refused up front. JSON can only carry U+0000 as the escape
 * `\u0000`, so a body whose text has none is not walked at all.
 */
export function jsonHoldsNul(text: string, parsed: unknown): boolean {
  return text.includes('\\u0000') && containsNul(parsed);
}

function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => containsNul(v, depth + 1));
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v, depth + 1));
}

export const nulRefused = () => new AppError('VALIDATION_FAILED', { message: 'text may not contain NUL (U+0000) characters' });

/**
 * The services' JSON body parser: Fastify's own (prototype-poisoning checks included), plus two
 * rules. An empty body with a JSON content type is no body (many fetch wrappers send the header on
 * every request, also on body-less POSTs such as logout or cancel); a route that needs a body still
 * says so through its schema. Strings holding U+0000 are refused with a 400.
 */
export function useJsonBodyRules(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  // JSON only: Fastify's text/plain parser would hand a string to routes that expect an object
  // (a misleading "body must be object"), or let text through where no body is expected: 415.
  // An empty body labelled text/plain (fetch's `body: ''`) is no body, as for JSON.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
    if (body === '') return done(null, undefined);
    done(new AppError('UNSUPPORTED_MEDIA_TYPE', { message: 'bodies are JSON (Content-Type: application/json)' }));
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
    if (body.trim() === '') return done(null, undefined);
    parse(request, body, (err: Error | null, parsed?: unknown) => {
      if (err) return done(err);
      if (jsonHoldsNul(body, parsed)) return done(nulRefused());
      done(null, parsed);
    });
  });
}
