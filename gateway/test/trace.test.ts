import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentationEnabled, parseTraceparent, recordSpans, SpanKind } from '@imlab/http';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

// The gateway is where a trace starts (or where a caller's continues): it logs the trace id and
// sends the service a traceparent naming its own span.
let fakes: Fakes;
let gw: RunningGateway;
beforeAll(async () => {
  fakes = await startFakes();
  gw = await startGateway(fakes);
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

async function forwarded(headers: Record<string, string>) {
  const before = fakes.billing.requests.length;
  const res = await send(`${gw.url}/v1/pricing`, { headers });
  expect(res.status).toBe(200);
  return { res, seen: fakes.billing.requests[before]!.headers };
}

describe('trace context at the gateway', () => {
  it("continues the caller's trace with a span of its own, and drops the caller's tracestate", async () => {
    const { res, seen } = await forwarded({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=secret' });
    const trace = parseTraceparent(seen.traceparent);
    expect(trace).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', flags: '01' });
    expect(trace!.spanId).not.toBe('b7ad6b7169203331');
    expect(seen.tracestate).toBeUndefined();
    // the request's log lines name the trace
    const lines = gw.logs().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.reqId === res.headers['x-request-id'] && l.traceId === '0af7651916cd43dd8448eb211c80319c')).toBe(true);
  });

  it('starts a trace for a request without one, and for a malformed one', async () => {
    const fresh = parseTraceparent((await forwarded({})).seen.traceparent);
    expect(fresh?.traceId).toMatch(/^[0-9a-f]{32}$/);
    const malformed = parseTraceparent((await forwarded({ traceparent: '00-zz-yy-01' })).seen.traceparent);
    expect(malformed?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(malformed!.traceId).not.toBe(fresh!.traceId);
  });

  it('records its own server span, the parent of what the service receives', async () => {
    const recording = recordSpans();
    try {
      const { seen } = await forwarded({ traceparent: '00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01' });
      const sent = parseTraceparent(seen.traceparent)!;
      const spans = recording.finished();
      // With OpenTelemetry's undici instrumentation on (as in tests: packages/http/test/instrument-setup.ts)
      // the service receives the traceparent of the gateway's client span, a child of its server span;
      // without it, the server span's own.
      const sentSpan = spans.find((s) => s.spanContext().spanId === sent.spanId)!;
      expect(sentSpan, spans.map((s) => s.name).join(', ')).toBeDefined();
      const span = instrumentationEnabled('undici') ? spans.find((s) => s.spanContext().spanId === sentSpan.parentSpanContext?.spanId) : sentSpan;
      if (instrumentationEnabled('undici')) {
        expect(sentSpan.kind).toBe(SpanKind.CLIENT);
        expect(sentSpan.attributes['url.full']).toBe(`${fakes.billing.url}/v1/pricing`);
        expect(seen.traceparent).not.toContain(','); // one traceparent, never the gateway's and undici's
      }
      expect(span?.spanContext().traceId).toBe('1af7651916cd43dd8448eb211c80319c');
      expect(span?.parentSpanContext?.spanId).toBe('c7ad6b7169203331');
      expect(span?.name).toBe('GET /v1/pricing');
      expect(span?.attributes['http.response.status_code']).toBe(200);
    } finally {
      recording.stop();
    }
  });
});
