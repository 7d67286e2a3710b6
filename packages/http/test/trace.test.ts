import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@imlab/logger';
import { captureLogs } from '@imlab/testing';
import { buildApp, childSpan, currentTrace, formatTraceparent, parseTraceparent, type App } from '../src/index.js';

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
    const child = childSpan(parent);
    expect(child.traceId).toBe(parent.traceId);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(parent.spanId);
    const root = childSpan();
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(parseTraceparent(formatTraceparent(root))).toEqual(root);
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
});
