import type { IncomingMessage } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { otelProblems } from '@imlab/config';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, InMemorySpanExporter, ParentBasedSampler, SamplingDecision, SimpleSpanProcessor, TracerProvider, type ReadableSpan, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

/**
 * Tracing with OpenTelemetry, propagated as W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * the gateway continues the caller's `traceparent` (or starts a trace) and sends the service a
 * `traceparent` naming its own span; each service request is a span of that trace, every message
 * sent while handling it carries the trace (the outbox keeps it), and the consumer handles it in a
 * span of the same trace: one trace id follows a generation from the gateway through the generation
 * API, the outbox and the render queue to the worker and the ledger. Every log line of a request or
 * a message names its `traceId`.
 *
 * Spans are exported only when asked, with OpenTelemetry's own variables: OTEL_TRACES_EXPORTER=otlp
 * (or console), or an OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT with
 * OTEL_TRACES_EXPORTER unset; OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME and the other OTLP
 * variables are read by the exporter. Off otherwise: ids are still made and propagated, nothing
 * leaves the process.
 */
export interface TraceContext {
  traceId: string;
  spanId: string;
  /** trace-flags as two hex digits: `01` sampled. */
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZEROS = /^0+$/;

/** The context a `traceparent` header names, or undefined when it is missing or malformed. */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has exactly four fields; later versions may append fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

export const formatTraceparent = (t: TraceContext): string => `00-${t.traceId}-${t.spanId}-${t.flags}`;

/** Test hooks: processors that see every span of this process (an in-memory exporter). */
const listeners: SpanProcessor[] = [];
const fanout: SpanProcessor = {
  onStart: (span, parent) => listeners.forEach((l) => l.onStart(span, parent)),
  onEnd: (span: ReadableSpan) => listeners.forEach((l) => l.onEnd(span)),
  forceFlush: async () => void (await Promise.all(listeners.map((l) => l.forceFlush()))),
  shutdown: async () => void (await Promise.all(listeners.map((l) => l.shutdown()))),
};
export function addSpanListener(processor: SpanProcessor): () => void {
  listeners.push(processor);
  return () => void listeners.splice(listeners.indexOf(processor), 1);
}

/** Every span this process finishes from now until stop() (tests). */
export function recordSpans(): { finished(): ReadableSpan[]; stop(): void } {
  const exporter = new InMemorySpanExporter();
  const remove = addSpanListener(new SimpleSpanProcessor({ exporter }));
  return { finished: () => exporter.getFinishedSpans(), stop: () => (remove(), exporter.reset()) };
}

/** The span exporter the OTEL_* variables ask for; none unless asked (off by default). */
export function exporterFromEnv(env: NodeJS.ProcessEnv) {
  // Variables the config refuses (otelProblems): no exporter; the config's message says why.
  if (Object.keys(otelProblems(env)).length > 0) return undefined;
  const chosen = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (chosen === 'console') return new ConsoleSpanExporter();
  if (chosen === 'otlp' || (chosen === '' && (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT))) return new OTLPTraceExporter();
  return undefined;
}

/**
 * Which spans may start a trace: only a request (SERVER) or a message (CONSUMER). A span with a
 * parent follows its parent's decision (ParentBased). Without this, every SQL statement, Redis
 * command or BullMQ housekeeping call made outside a request or a message (the outbox relay's
 * poll, a worker's blocking wait for its next job, stalled-job checks, JWKS refreshes) would be a
 * one-span trace of its own: noise, and a second trace beside the message's. Dropped spans stay
 * valid for propagation (their trace id is kept), they are only not recorded.
 */
export const ownRootsOnly: Sampler = {
  shouldSample: (_ctx, _traceId, _name, kind) =>
    ({ decision: kind === SpanKind.SERVER || kind === SpanKind.CONSUMER ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD }),
  toString: () => 'OwnRootsOnly',
};

let provider: TracerProvider | undefined;
let exporting = false;
/**
 * Sets up tracing for this process once (the first service to ask names the resource): the
 * AsyncLocalStorage context manager, the W3C propagator and the tracer provider.
 */
export function setupTracing(service: string, env: NodeJS.ProcessEnv = process.env): void {
  if (provider) return;
  const exporter = exporterFromEnv(env);
  exporting = exporter !== undefined;
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || `imagemakerlab-${service}` }),
    sampler: new ParentBasedSampler({ root: ownRootsOnly }),
    spanProcessors: [fanout, ...(exporter ? [new BatchSpanProcessor({ exporter })] : [])],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
}

/** The process's tracer provider (set up on first use): what the instrumentations report to. */
export function tracerProvider(): TracerProvider {
  if (!provider) setupTracing('process');
  return provider!;
}

/** Whether spans leave this process (an exporter was configured by the OTEL_* variables). */
export const tracingExported = (): boolean => exporting;

/** Sends what is left to the exporter (at shutdown). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush();
}

const tracer = () => {
  if (!provider) setupTracing('process');
  return provider!.getTracer('imagemakerlab');
};

/**
 * A span of `kind`, a child of the trace `traceparent` names (a remote parent), or the root of a
 * new trace; with the context to run its work in.
 */
export function startSpan(name: string, kind: SpanKind, traceparent: unknown, attributes: Record<string, string> = {}, within?: Context): { span: Span; ctx: Context } {
  const spans = tracer(); // sets tracing up first: the propagator below is the global one
  const remote = propagation.extract(ROOT_CONTEXT, parseTraceparent(traceparent) ? { traceparent: String(traceparent).trim().toLowerCase() } : {});
  // `within` (e.g. BullMQ's own consumer span, itself continued from the same traceparent) is the
  // parent when it belongs to the trace the traceparent names, or when there is no traceparent.
  const inner = within ? trace.getSpanContext(within) : undefined;
  const outer = trace.getSpanContext(remote);
  const parent = within && inner && trace.isSpanContextValid(inner) && (!outer || outer.traceId === inner.traceId) ? within : remote;
  const span = spans.startSpan(name, { kind, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** The context running now (a request's or a message's span, or none). */
export const activeContext = (): Context => context.active();

/** Runs `fn` (and everything it starts) in `ctx`. */
export function runInContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** The `traceparent` of the active span (what a message sent now carries), if any. */
export function activeTraceparent(ctx: Context = context.active()): string | undefined {
  if (!provider) return undefined; // nothing traced in this process yet
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The trace of what is running now (a request, a queue message), if any. */
export function currentTrace(): TraceContext | undefined {
  return parseTraceparent(activeTraceparent());
}

/** Runs `fn` as if inside the span `t` names (a remote parent): for tests and scripts. */
export function withTrace<T>(t: TraceContext, fn: () => T): T {
  const flags = t.flags === '01' ? TraceFlags.SAMPLED : TraceFlags.NONE;
  return context.with(trace.setSpanContext(ROOT_CONTEXT, { traceId: t.traceId, spanId: t.spanId, traceFlags: flags, isRemote: true }), fn);
}

const REQUEST_SPAN = Symbol('imlab.requestSpan');
/**
 * The server span of an HTTP request, continued from its `traceparent`: made once per request (the
 * logger factory asks first, so every log line of the request carries the trace id).
 */
export function requestSpan(raw: IncomingMessage): { span: Span; ctx: Context } {
  const holder = raw as IncomingMessage & { [REQUEST_SPAN]?: { span: Span; ctx: Context } };
  return (holder[REQUEST_SPAN] ??= startSpan(`${raw.method ?? 'GET'}`, SpanKind.SERVER, raw.headers.traceparent, { 'http.request.method': raw.method ?? 'GET' }));
}

/** Ends a request's span with what it became (route template, status). */
export function endRequestSpan(raw: IncomingMessage, route: string | undefined, status: number): void {
  const { span } = requestSpan(raw);
  if (route) {
    span.updateName(`${raw.method ?? 'GET'} ${route}`);
    span.setAttribute('http.route', route);
  }
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

export { SpanKind, SpanStatusCode };
