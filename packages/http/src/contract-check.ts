import type { FastifyInstance } from 'fastify';
import { PROBLEM_CODES } from './openapi.js';

/**
 * Codes any operation may answer besides its own: what the gateway adds to every operation of the
 * merged document (rate limit, a service down, draining, failing or slow) and an unexpected error.
 */
export const UNIVERSAL_PROBLEM_CODES = new Set(['RATE_LIMITED', 'SERVICE_UNAVAILABLE', 'UPSTREAM_FAILED', 'UPSTREAM_TIMEOUT', 'INTERNAL']);

/**
 * Problem answers whose code the answering operation does not declare for that status: each one
 * is a gap between the OpenAPI document and the code. Logged, and collected here so that the test
 * suite fails on any (packages/testing's contract setup checks it after every test file).
 */
export const contractViolations: string[] = [];
const MAX_KEPT_VIOLATIONS = 100;

/**
 * Checks every problem answer of a documented public route against the codes its schema declares
 * (errors() in openapi.ts). Only answers of 400 and up are read, so the success path costs nothing.
 */
export function checkProblemsAgainstDocument(app: FastifyInstance): void {
  const declared = new Map<string, Map<number, Set<string>>>();
  app.addHook('onRoute', (route) => {
    const responses = (route.schema as { response?: Record<string, Record<string, unknown>> } | undefined)?.response;
    if (!responses || !route.url.startsWith('/v1/')) return;
    const byStatus = new Map<number, Set<string>>();
    for (const [status, answer] of Object.entries(responses)) {
      const codes = answer?.[PROBLEM_CODES];
      if (Array.isArray(codes)) byStatus.set(Number(status), new Set(codes as string[]));
    }
    // A route that declares no problem answers at all is not documented this way (a test's demo route).
    if (byStatus.size) for (const method of [route.method].flat()) declared.set(`${method} ${route.url}`, byStatus);
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode < 400 || typeof payload !== 'string') return done(null, payload);
    const routeUrl = request.routeOptions.url;
    const byStatus = routeUrl ? declared.get(`${request.method} ${routeUrl}`) : undefined;
    if (!byStatus) return done(null, payload);
    let code: unknown;
    try {
      code = (JSON.parse(payload) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    if (typeof code === 'string' && !UNIVERSAL_PROBLEM_CODES.has(code) && !byStatus.get(reply.statusCode)?.has(code)) {
      const violation = `${request.method} ${routeUrl} answered ${reply.statusCode} ${code}, which its OpenAPI document does not list`;
      // bounded: a long-running service that keeps answering one undocumented code must not grow
      if (contractViolations.length < MAX_KEPT_VIOLATIONS) contractViolations.push(violation);
      request.log.warn({ route: routeUrl, status: reply.statusCode, code }, 'problem code not in the OpenAPI document');
    }
    done(null, payload);
  });
}
