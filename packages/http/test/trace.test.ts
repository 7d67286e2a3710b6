import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@imlab/logger';
import { captureLogs } from '@imlab/testing';
import { SpanKind } from '@opentelemetry/api';
import { createServer } from 'node:http';
import { buildApp, currentTrace, exporterFromEnv, formatTraceparent, parseTraceparent, recordSpans, startSpan, type App } from '../src/index.js';

describe('W3C traceparent', () => {
  it.each([
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '01' }],
    [' 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00 ', { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '00' }],
    // a later version may carry more fields; its first four are read
    ['01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '01' }],
  ])('reads %s', (header, expected) => {
    expect(parseTraceparent(header)).toEqual(expected);
  });

  it.each([
    undefined,
    '',
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
  ])('refuses %s', (header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('continues a trace with a span of its own, or starts one', () => {
    const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')!;
    const { span: child } = startSpan('child', SpanKind.INTERNAL, formatTraceparent(parent));
    expect(child.spanContext().traceId).toBe(parent.traceId);
    expect(child.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanContext().spanId).not.toBe(parent.spanId);
    child.end();
    const { span: root } = startSpan('root', SpanKind.INTERNAL, 'not a traceparent');
    expect(root.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.spanContext().traceId).not.toBe(parent.traceId);
    root.end();
  });
});

describe('which spans are recorded', () => {
  it('starts traces only with a request or a message: a library span outside one is not recorded', () => {
    const recording = recordSpans();
    try {
      // what the outbox relay's poll, a worker's wait for jobs or a JWKS refresh would make
      const { span: stray } = startSpan('pg.query SELECT', SpanKind.CLIENT, undefined);
      stray.end();
      expect(stray.isRecording()).toBe(false);
      const { span: request, ctx } = startSpan('GET /v1/x', SpanKind.SERVER, undefined);
      const { span: message } = startSpan('process x', SpanKind.CONSUMER, undefined);
      // inside a request, library spans are its children and recorded
      const { span: query } = startSpan('pg.query SELECT', SpanKind.CLIENT, undefined, {}, ctx);
      for (const s of [query, message, request]) s.end();
      expect(recording.finished().map((s) => s.name).sort()).toEqual(['GET /v1/x', 'pg.query SELECT', 'process x']);
      expect(recording.finished().find((s) => s.name === 'pg.query SELECT')!.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    } finally {
      recording.stop();
    }
  });

  it('follows a caller that did not sample its trace', () => {
    const recording = recordSpans();
    try {
      const { span } = startSpan('GET /v1/x', SpanKind.SERVER, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
      span.end();
      expect(span.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(recording.finished()).toEqual([]);
    } finally {
      recording.stop();
    }
  });
});

describe('a service app and the trace of each request', () => {
  let app: App;
  const logs = captureLogs();
  beforeAll(async () => {
    app = await buildApp({ service: 'demo', logger: createLogger({ service: 'demo', level: 'info', destination: logs.stream }) });
    app.get('/v1/traced', async (request) => {
      // after an await too: the handler's whole async chain runs in the request's trace
      await new Promise((r) => setTimeout(r, 1));
      request.log.info('handled');
      return { trace: currentTrace() ?? null };
    });
    await app.ready();
  });
  afterAll(async () => app.close());

  const handledLine = (requestId: string) => logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'handled' && l.reqId === requestId);

  it('continues the gateway’s trace: the handler runs in it and every log line names it', async () => {
    const res = await app.inject({ url: '/v1/traced', headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x-request-id': 'req-trace-1' } });
    const { trace } = res.json() as { trace: { traceId: string; spanId: string } };
    expect(trace.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(trace.spanId).not.toBe('00f067aa0ba902b7');
    expect(handledLine('req-trace-1')).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
  });

  it('starts a trace for a request without one (or with a malformed one)', async () => {
    const res = await app.inject({ url: '/v1/traced', headers: { traceparent: 'nonsense', 'x-request-id': 'req-trace-2' } });
    const { trace } = res.json() as { trace: { traceId: string } };
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(handledLine('req-trace-2')).toMatchObject({ traceId: trace.traceId });
    expect(currentTrace()).toBeUndefined(); // nothing leaks out of the request
  });

  it('records a server span per request, named by its route, child of the caller’s span', async () => {
    const recording = recordSpans();
    try {
      await app.inject({ url: '/v1/traced', headers: { traceparent: '00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
      const [span] = recording.finished().filter((s) => s.spanContext().traceId === '5bf92f3577b34da6a3ce929d0e0e4736');
      expect(span?.name).toBe('GET /v1/traced');
      expect(span?.kind).toBe(SpanKind.SERVER);
      expect(span?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
      expect(span?.attributes['http.response.status_code']).toBe(200);
    } finally {
      recording.stop();
    }
  });
});

describe('exporting spans (the standard OTEL_* variables)', () => {
  it('is off unless asked', () => {
    expect(exporterFromEnv({})).toBeUndefined();
    expect(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBeUndefined();
    expect(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'console' })?.constructor.name).toBe('ConsoleSpanExporter');
  });

  it('sends OTLP over HTTP to the endpoint OTEL_EXPORTER_OTLP_TRACES_ENDPOINT names', async () => {
    const received: { url?: string; type?: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ url: req.url, type: req.headers['content-type'], body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(collector.address() as { port: number }).port}/v1/traces`;
    const saved = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = endpoint; // the exporter reads its settings itself
    try {
      const exporter = exporterFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint })!;
      expect(exporter.constructor.name).toBe('OTLPTraceExporter');
      const recording = recordSpans();
      const { span } = startSpan('exported', SpanKind.SERVER, undefined);
      span.end();
      const [finished] = recording.finished().filter((s) => s.name === 'exported');
      recording.stop();
      const result = await new Promise<{ code: number }>((resolve) => exporter.export([finished!], resolve));
      expect(result.code).toBe(0); // SUCCESS
      expect(received).toEqual([expect.objectContaining({ url: '/v1/traces', type: 'application/json' })]);
      const sent = JSON.parse(received[0]!.body) as { resourceSpans: { scopeSpans: { spans: { name: string; traceId: string }[] }[] }[] };
      expect(sent.resourceSpans[0]!.scopeSpans[0]!.spans[0]).toMatchObject({ name: 'exported', traceId: finished!.spanContext().traceId });
      await exporter.shutdown();
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved;
      await new Promise((r) => collector.close(r));
    }
  });
});
