import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a request arrives
 * with is continued (same trace id, a new span of our own), or a trace starts here. The trace id
 * goes into every log line of the request (`traceId`), into the `traceparent` the gateway sends
 * upstream, and into every message sent while the request is handled (the outbox keeps it; the
 * consumer continues the trace): one id follows a generation from the gateway through the
 * generation API, the outbox and the render queue to the worker and the ledger.
 */
export interface TraceContext {
  traceId: string;
  spanId: string;
  /** trace-flags: `01` sampled. */
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

/** A span of our own: a child of `parent` (same trace), or the root of a new trace. */
export function childSpan(parent?: TraceContext): TraceContext {
  return { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), flags: parent?.flags ?? '01' };
}

const current = new AsyncLocalStorage<TraceContext>();

/** The trace of what is running now (a request, a queue message), if any. */
export function currentTrace(): TraceContext | undefined {
  return current.getStore();
}

/** Runs `fn` (and everything it starts) in `trace`. */
export function withTrace<T>(trace: TraceContext, fn: () => T): T {
  return current.run(trace, fn);
}

const TRACE = Symbol('imlab.trace');
/**
 * The request's own span, continued from its `traceparent`: computed once per request (the
 * logger factory asks first, so every log line of the request carries the trace id).
 */
export function requestTrace(raw: IncomingMessage): TraceContext {
  const holder = raw as IncomingMessage & { [TRACE]?: TraceContext };
  return (holder[TRACE] ??= childSpan(parseTraceparent(raw.headers.traceparent)));
}
