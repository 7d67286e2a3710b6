import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation, type UndiciRequest } from '@opentelemetry/instrumentation-undici';
import { register as registerImportHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import { setupTracing, tracerProvider, tracingExported } from './trace.js';
import { OTEL_INSTRUMENTATIONS } from '@imlab/config';

/**
 * OpenTelemetry's own instrumentations, beside the request and message spans of trace.ts: every SQL
 * statement (pg), Redis command (ioredis) and outgoing HTTP call (undici, which the gateway proxies
 * with and `fetch` is built on) becomes a child span of the request or message it runs in, and
 * BullMQ's telemetry hook (`bullmq-otel`, wired in @imlab/queue) adds its producer/consumer spans.
 *
 * They patch modules as they load, so `instrument()` must run before pg or ioredis is imported: each
 * entry point (`src/main.ts`, the render worker, the gateway) calls it first and then imports the
 * rest of the process with a dynamic `import()`. With ES modules a static import would be too late:
 * Node loads the whole static graph before running any of it. `import-in-the-middle`'s in-thread
 * loader hook (module.registerHooks, Node ≥ 22.22.3 / 24.11.1 / 26) sees the ES-module imports of the
 * packages named in INSTRUMENTED_MODULES only; `require-in-the-middle` (registered by the
 * instrumentations themselves) sees pg's own requires of its files.
 *
 * Which ones run: by default all of them when spans are exported (OTEL_TRACES_EXPORTER or an OTLP
 * endpoint; trace.ts) and none otherwise, so an untraced process pays nothing; the standard
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS (comma-separated: pg, ioredis, undici, bullmq) chooses them
 * explicitly, OTEL_NODE_DISABLED_INSTRUMENTATIONS removes some.
 *
 * What they must never record (tested in test/instrumentation.test.ts): bound parameter values
 * (pg: `enhancedDatabaseReporting` off, so only the statement text with its `$n` placeholders),
 * Redis arguments (only the command name), request or response headers (undici records none unless
 * asked) and query strings (removed from `url.full` and `url.query`: verification and reset links
 * carry tokens there).
 */
export const INSTRUMENTATIONS = OTEL_INSTRUMENTATIONS;
export type InstrumentationName = (typeof INSTRUMENTATIONS)[number];
/**
 * The modules whose ES-module imports the loader hook intercepts (nothing else goes through it): by
 * bare specifier, and by the URL of their entry files for loaders that import by resolved URL
 * (vitest does).
 */
export const INSTRUMENTED_MODULES: (string | RegExp)[] = [
  'pg',
  'pg-pool',
  'ioredis',
  /\/node_modules\/(?:ioredis\/built\/index\.js|pg\/(?:esm\/index\.mjs|lib\/index\.js)|pg-pool\/(?:esm\/index\.mjs|index\.js))$/,
];

let enabled: ReadonlySet<InstrumentationName> | undefined;

const listOf = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

/**
 * The instrumentations the environment asks for (see above). Names it does not know are left out
 * here: the service's config, loaded next, refuses them with every other problem in one message
 * (otelProblems in @imlab/config).
 */
export function instrumentationsFromEnv(env: NodeJS.ProcessEnv, exported: boolean): Set<InstrumentationName> {
  const asked = env.OTEL_NODE_ENABLED_INSTRUMENTATIONS !== undefined ? listOf(env.OTEL_NODE_ENABLED_INSTRUMENTATIONS) : exported ? [...INSTRUMENTATIONS] : [];
  const disabled = new Set(listOf(env.OTEL_NODE_DISABLED_INSTRUMENTATIONS));
  return new Set(asked.filter((n): n is InstrumentationName => (INSTRUMENTATIONS as readonly string[]).includes(n) && !disabled.has(n)));
}

/** `url.full` without its query string (tokens travel there), for the undici client span. */
export function urlWithoutQuery(request: Pick<UndiciRequest, 'origin' | 'path'>): Record<string, string> {
  const path = request.path.split('?')[0] ?? '';
  return { 'url.full': `${String(request.origin).replace(/\/$/, '')}${path}`, 'url.query': '' };
}

/**
 * Sets tracing up for `service` and registers the instrumentations the environment asks for.
 * Call it first in an entry point, before importing anything that imports pg or ioredis.
 */
export function instrument(service: string, env: NodeJS.ProcessEnv = process.env): void {
  if (enabled) return;
  setupTracing(service, env);
  enabled = instrumentationsFromEnv(env, tracingExported());
  const patching = [...enabled].filter((n) => n === 'pg' || n === 'ioredis');
  if (patching.length > 0 && supportsSyncHooks()) registerImportHooks({ include: INSTRUMENTED_MODULES });
  registerInstrumentations({
    tracerProvider: tracerProvider(),
    instrumentations: [
      ...(enabled.has('pg')
        ? [
            new PgInstrumentation({
              // never the bound values: only the statement text ($1, $2… stay placeholders)
              enhancedDatabaseReporting: false,
              requireParentSpan: true,
              // the pool's connect/acquire spans add nothing a query span does not show
              ignoreConnectSpans: true,
            }),
          ]
        : []),
      ...(enabled.has('ioredis')
        ? [
            new IORedisInstrumentation({
              requireParentSpan: true,
              // the command name only: keys name people (hashed or not) and values can be anything
              dbStatementSerializer: (command) => command,
            }),
          ]
        : []),
      ...(enabled.has('undici')
        ? [
            new UndiciInstrumentation({
              requireParentforSpans: true,
              startSpanHook: (request) => urlWithoutQuery(request),
            }),
          ]
        : []),
    ],
  });
}

/** Whether `name` was enabled by instrument() in this process. */
export const instrumentationEnabled = (name: InstrumentationName): boolean => enabled?.has(name) ?? false;
