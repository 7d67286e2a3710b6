import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '@imlab/testing';
import { startHarness, type Harness } from './support/harness.js';

// No worker runs until a test starts one, so "before render" is certain, not a race.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('lifecycle', { LOCAL_RENDER_MS: '1500' });
});
afterAll(async () => h?.close());

describe('generation lifecycle around the render', () => {
  it('cancel before the render: canceled, hold released, and the worker later does nothing', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'never rendered', model: 'imlab-draft' } });
    expect(created.body.status).toBe('queued');
    expect(h.ledger.balance(user)).toMatchObject({ available: 9, held: 1 });
    const canceled = await h.api('POST', `/v1/generations/${created.body.id}/cancel`, { user });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'canceled', errorCode: 'GENERATION_CANCELED' });
    await eventually(() => h.ledger.balance(user).available === 10);

    const worker = await h.startWorker();
    await eventually(async () => (await h.ctx.bus.queue('generation-render').getJobCounts('completed')).completed! >= 1);
    const g = await h.api('GET', `/v1/generations/${created.body.id}`, { user });
    expect(g.body.status).toBe('canceled');
    expect(g.body.images).toEqual([]);
    expect(h.ledger.count('capture', created.body.id)).toBe(0);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
    await worker.worker.close();
  });

  it('cancel during the render: the finished render is thrown away and nothing is captured', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const worker = await h.startWorker();
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'too late', model: 'imlab-draft' } });
    await h.waitFor(user, created.body.id, ['running']);
    const canceled = await h.api('POST', `/v1/generations/${created.body.id}/cancel`, { user });
    expect(canceled.body.status).toBe('canceled');
    await eventually(async () => {
      const j = await h.ctx.bus.queue('generation-render').getJobs(['completed']);
      return j.some((x) => x.data.payload.generationId === created.body.id);
    });
    expect(h.ledger.count('capture', created.body.id)).toBe(0);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
    expect((await h.api('GET', `/v1/generations/${created.body.id}`, { user })).body.images).toEqual([]);
    const cancelDone = await h.api('POST', `/v1/generations/${created.body.id}/cancel`, { user });
    expect(cancelDone.body.status).toBe('canceled');
    await worker.worker.close();
  });

  it('a succeeded generation cannot be canceled', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const worker = await h.startWorker({ LOCAL_RENDER_MS: '0' });
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'done', model: 'imlab-draft' } });
    await h.waitFor(user, created.body.id, ['succeeded']);
    const res = await h.api('POST', `/v1/generations/${created.body.id}/cancel`, { user });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('GENERATION_NOT_CANCELABLE');
    await worker.worker.close();
  });

  it('the ledger expiring the hold fails the queued generation, and a later render does nothing', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'forgotten', model: 'imlab-draft' } });
    await h.ledger.expire(created.body.id);
    const failed = await h.waitFor(user, created.body.id, ['failed']);
    expect(failed.errorCode).toBe('GENERATION_HOLD_EXPIRED');
    const worker = await h.startWorker({ LOCAL_RENDER_MS: '0' });
    await eventually(async () => {
      const j = await h.ctx.bus.queue('generation-render').getJobs(['completed']);
      return j.some((x) => x.data.payload.generationId === created.body.id);
    });
    expect(h.ledger.count('capture', created.body.id)).toBe(0);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
    await worker.worker.close();
  });

  it('the sweeper fails generations whose hold time ran out and releases them', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'stale', model: 'imlab-draft' } });
    // The sweeper skips rows another transaction holds (the hold-placed event may be landing at
    // this very moment) and takes them on its next round, as its timer would.
    let swept = 0;
    await eventually(async () => (swept += await h.app.generation.service.sweepExpired(new Date(Date.now() + h.config.HOLD_TTL * 1000 + 1000))) >= 1);
    expect(swept).toBe(1);
    const g = await h.waitFor(user, created.body.id, ['failed']);
    expect(g.errorCode).toBe('GENERATION_HOLD_EXPIRED');
    await eventually(() => h.ledger.balance(user).available === 10);
  });

  it('a render that finishes within HOLD_CAPTURE_MARGIN of the hold expiry is failed and refunded, not delivered unpaid', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    // The hold is HOLD_TTL long; with this margin the capture deadline is ~1 s after creation and
    // the render takes 1.5 s: done before the hold expires, but too late for the capture to be sure.
    const worker = await h.startWorker({ HOLD_CAPTURE_MARGIN: String(h.config.HOLD_TTL - 1) });
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'just too late', model: 'imlab-draft' } });
    const g = await h.waitFor(user, created.body.id, ['failed', 'succeeded']);
    expect(g).toMatchObject({ status: 'failed', errorCode: 'GENERATION_HOLD_EXPIRED', images: [] });
    await eventually(() => h.ledger.balance(user).available === 10);
    expect(h.ledger.count('capture', created.body.id)).toBe(0);
    await worker.worker.close();
  });

  it('a capture that reaches the ledger after the hold expired is reported as an uncharged generation', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const worker = await h.startWorker({ LOCAL_RENDER_MS: '0' });
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'capture delayed past expiry', model: 'imlab-draft' } });
    h.ledger.expiresBeforeCapture.add(created.body.id);
    const uncharged = async () => Number(/^imlab_generation_uncharged_total(?:\{[^}]*\})? (\d+)/m.exec(await h.app.metricsRegistry.metrics())?.[1] ?? 0);
    const before = await uncharged();
    await h.waitFor(user, created.body.id, ['succeeded']);
    await eventually(async () => (await uncharged()) === before + 1);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
    expect((await h.api('GET', `/v1/generations/${created.body.id}`, { user })).body.status).toBe('succeeded');
    await worker.worker.close();
  });

  it('a cancel while the ledger is still reserving still ends with the credits back', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    // The wait is skipped (RESERVE_WAIT_MS is generous, so cancel right after a racing create)
    const createP = h.api('POST', '/v1/generations', { user, body: { prompt: 'race', model: 'imlab-draft' } });
    const id = await eventually(async () => (await h.api('GET', '/v1/generations', { user })).body.items[0]?.id as string | undefined);
    const canceled = await h.api('POST', `/v1/generations/${id}/cancel`, { user });
    expect([200, 409]).toContain(canceled.status);
    await createP;
    await eventually(() => h.ledger.balance(user).available === 10 && h.ledger.balance(user).held === 0);
    expect(h.ledger.violations).toEqual([]);
  });
});
