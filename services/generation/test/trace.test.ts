import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { parseTraceparent, recordSpans } from '@imlab/http';
import { eventually } from '@imlab/testing';
import { startHarness, type Harness } from './support/harness.js';

// One trace from the request the gateway forwards (its traceparent) through the generation API, the
// outbox and the queues to the ledger, the render worker, and the worker's capture back to the ledger.
let h: Harness;
const alice = randomUUID();
beforeAll(async () => {
  h = await startHarness('trace');
  await h.startWorker();
  h.ledger.grant(alice, 50);
});
afterAll(async () => h?.close());

describe('trace context across the generation path', () => {
  it('carries the trace of the request to every message it causes, up to the worker’s capture', async () => {
    const traceId = 'ab'.repeat(16);
    const gatewaySpan = 'cd'.repeat(8);
    const created = await h.api('POST', '/v1/generations', {
      user: alice,
      body: { prompt: 'a lighthouse at dusk', count: 1, size: '512x512', seed: 7 },
      headers: { traceparent: `00-${traceId}-${gatewaySpan}-01` },
    });
    expect(created.status).toBe(202);
    await h.waitFor(alice, created.body.id, ['succeeded']);

    const jobsOf = async (queue: 'generation-render' | 'credits-ledger') =>
      (await h.ctx.bus.queue(queue).getJobs(['completed', 'active', 'waiting'], 0, 200)).filter(Boolean).map((j) => j.data as { name: string; payload: Record<string, unknown>; traceparent?: string });
    const render = (await jobsOf('generation-render')).find((m) => m.payload.generationId === created.body.id)!;
    expect(render, 'the render job').toBeDefined();
    // the capture is committed with the success and relayed right after it: it may reach the queue
    // a moment after the generation reads as succeeded
    const ledger = await eventually(async () => {
      const found = (await jobsOf('credits-ledger')).filter((m) => JSON.stringify(m.payload).includes(created.body.id) || m.payload.userId === alice);
      return found.some((m) => m.name === 'ledger.capture') ? found : undefined;
    }).then((found) => found!);
    const names = ledger.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['ledger.reserve', 'ledger.capture']));

    for (const message of [render, ...ledger]) {
      const trace = parseTraceparent(message.traceparent);
      expect(trace?.traceId, message.name).toBe(traceId);
      // each hop is a span of its own, never the gateway's
      expect(trace?.spanId, message.name).not.toBe(gatewaySpan);
    }
    // the capture was sent by the worker, in a span of its own (a child of the render message's)
    const capture = ledger.find((m) => m.name === 'ledger.capture')!;
    expect(parseTraceparent(capture.traceparent)!.spanId).not.toBe(parseTraceparent(render.traceparent)!.spanId);
  });

  it('starts a trace of its own for a request that comes without one', async () => {
    const created = await h.api('POST', '/v1/generations', { user: alice, body: { prompt: 'a quiet harbour', count: 1, size: '512x512', seed: 8 } });
    expect(created.status).toBe(202);
    await h.waitFor(alice, created.body.id, ['succeeded']);
    // the worker commits the success before BullMQ hears the job is done: wait for the job too
    const render = (await eventually(async () => (await h.ctx.bus.queue('generation-render').getJobs(['completed'], 0, 200)).find((j) => j?.data.payload.generationId === created.body.id)))!;
    expect(parseTraceparent(render.data.traceparent)?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(parseTraceparent(render.data.traceparent)?.traceId).not.toBe('ab'.repeat(16));
  });
});

describe('the spans of that trace (OpenTelemetry)', () => {
  it('links the API request to the gateway’s span, and the worker’s render to the same trace', async () => {
    const recording = recordSpans();
    try {
      const traceId = 'ef'.repeat(16);
      const gatewaySpan = '12'.repeat(8);
      const created = await h.api('POST', '/v1/generations', {
        user: alice,
        body: { prompt: 'a windmill in fog', count: 1, size: '512x512', seed: 9 },
        headers: { traceparent: `00-${traceId}-${gatewaySpan}-01` },
      });
      await h.waitFor(alice, created.body.id, ['succeeded']);
      // the render's spans end after its transaction commits (the success is visible a moment before)
      const spans = (await eventually(() => {
        const all = recording.finished().filter((s) => s.spanContext().traceId === traceId);
        const done = all.find((s) => s.name === 'process generation.render');
        return done && all.some((s) => s.instrumentationScope.name === 'bullmq' && s.spanContext().spanId === done.parentSpanContext?.spanId) ? all : undefined;
      }))!;
      const server = spans.find((s) => s.name === 'POST /v1/generations')!;
      expect(server, spans.map((s) => s.name).join(', ')).toBeDefined();
      expect(server.parentSpanContext?.spanId).toBe(gatewaySpan);
      const render = spans.find((s) => s.name === 'process generation.render')!;
      expect(render, spans.map((s) => s.name).join(', ')).toBeDefined();
      // every span of the trace descends from the API's request span
      const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
      const ancestors = (s: (typeof spans)[number]): string[] => {
        const parent = s.parentSpanContext?.spanId;
        return parent && byId.has(parent) ? [parent, ...ancestors(byId.get(parent)!)] : parent ? [parent] : [];
      };
      expect(ancestors(render)).toContain(server.spanContext().spanId);

      // OpenTelemetry's instrumentations (on in tests, see packages/http/test/instrument-setup.ts):
      // the request's SQL statements and Redis commands, and the worker's, are spans of this trace too
      const descends = (s: (typeof spans)[number], from: (typeof spans)[number]) => ancestors(s).includes(from.spanContext().spanId);
      const sql = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql' || s.attributes['db.system'] === 'postgresql');
      const redis = spans.filter((s) => s.attributes['db.system.name'] === 'redis' || s.attributes['db.system'] === 'redis');
      expect(sql.filter((s) => descends(s, server)).length, 'SQL under the API request').toBeGreaterThan(0);
      expect(sql.filter((s) => descends(s, render)).length, 'SQL under the render').toBeGreaterThan(0);
      expect(redis.filter((s) => descends(s, render)).length, 'Redis commands under the render').toBeGreaterThan(0);
      // BullMQ's own consumer span is in the same trace, between the message and the handler's span
      const bullmq = spans.find((s) => s.instrumentationScope.name === 'bullmq' && s.spanContext().spanId === render.parentSpanContext?.spanId);
      expect(bullmq, spans.map((s) => `${s.instrumentationScope.name}:${s.name}`).join(', ')).toBeDefined();
      // and no message of this request made a trace of its own: every recorded BullMQ consumer span
      // of its render job is in this trace
      const renderJobSpans = recording.finished().filter((s) => s.instrumentationScope.name === 'bullmq' && s.attributes['bullmq.job.name'] === 'generation.render' && String(s.attributes['bullmq.job.id']) === String(render.attributes['messaging.message.id']));
      expect(renderJobSpans.length).toBeGreaterThan(0);
      expect(new Set(renderJobSpans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
    } finally {
      recording.stop();
    }
  });
});
