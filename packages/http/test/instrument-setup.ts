// Runs first in every test file (vitest setupFiles): OpenTelemetry's pg, ioredis, undici and BullMQ
// instrumentations on, as in a process that exports spans, so every test runs the instrumented code
// paths and tracing tests can see SQL, Redis and HTTP client spans (recordSpans).
// OTEL_NODE_ENABLED_INSTRUMENTATIONS= (empty) runs the suite without them.
import { createRequire } from 'node:module';
import { instrument, instrumentationEnabled } from '../src/instrument.js';

instrument('test', { ...process.env, OTEL_NODE_ENABLED_INSTRUMENTATIONS: process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS ?? 'pg,ioredis,undici,bullmq' });
// vitest imports packages by their resolved file path, which import-in-the-middle does not take for
// an import of the package itself (a process imports 'ioredis' by name: the loader hook patches it;
// test/instrumentation.test.ts checks that in a real process). Loaded once through require here,
// the instrumentation patches it on load, and every later import shares that module.
if (instrumentationEnabled('ioredis')) createRequire(import.meta.url)('ioredis');
