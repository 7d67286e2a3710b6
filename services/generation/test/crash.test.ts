import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '@imlab/testing';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('crash');
});
afterAll(async () => h?.close());
afterEach(async () => h?.killSpawned());

async function generationsOf(user: string, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await h.api('GET', `/v1/generations/${id}`, { user })).body));
}

describe('render worker killed with SIGKILL', () => {
  it('recovers the job in another worker process and charges exactly once', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 100);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.api('POST', '/v1/generations', { user, body: { prompt: `crash ${i}`, model: 'imlab-draft' } });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const first = await h.spawnWorker({ LOCAL_RENDER_MS: '4000', RENDER_CONCURRENCY: '4', RENDER_USER_CAP: '4' });
    await eventually(async () => (await generationsOf(user, ids)).every((g) => g.status === 'running'), 20_000);
    await first.stop('SIGKILL');
    expect(first.child.signalCode).toBe('SIGKILL');

    const second = await h.spawnWorker({ LOCAL_RENDER_MS: '200', RENDER_CONCURRENCY: '4', RENDER_USER_CAP: '4' });
    await eventually(async () => (await generationsOf(user, ids)).every((g) => g.status === 'succeeded'), 30_000, 200);
    await eventually(() => ids.every((id) => h.ledger.count('capture', id) === 1));
    await new Promise((r) => setTimeout(r, 500));
    for (const id of ids) expect(h.ledger.count('capture', id)).toBe(1);
    expect(h.ledger.violations).toEqual([]);
    expect(h.ledger.balance(user)).toEqual({ available: 97, held: 0, consumed: 3 });
    for (const g of await generationsOf(user, ids)) expect(g.images).toHaveLength(1);
    await second.stop('SIGTERM');
  }, 90_000);

  it('under repeated kills at random moments every generation ends charged once or refunded, never twice', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 100);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await h.api('POST', '/v1/generations', { user, body: { prompt: `chaos ${i}`, model: 'imlab-draft' } });
      ids.push(res.body.id);
    }
    const env = { LOCAL_RENDER_MS: '300', RENDER_CONCURRENCY: '3', RENDER_USER_CAP: '3' };
    for (let round = 0; round < 4; round++) {
      const w = await h.spawnWorker(env);
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 700)));
      await w.stop('SIGKILL');
    }
    const last = await h.spawnWorker(env);
    await eventually(async () => (await generationsOf(user, ids)).every((g) => ['succeeded', 'failed'].includes(g.status)), 60_000, 250);
    const final = await generationsOf(user, ids);
    await eventually(() => final.every((g) => (g.status === 'succeeded' ? h.ledger.count('capture', g.id) === 1 : h.ledger.count('release', g.id) >= 1)), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    for (const g of final) {
      expect(h.ledger.count('capture', g.id)).toBe(g.status === 'succeeded' ? 1 : 0);
      expect(g.images).toHaveLength(g.status === 'succeeded' ? 1 : 0);
    }
    expect(h.ledger.violations).toEqual([]);
    const succeeded = final.filter((g) => g.status === 'succeeded').length;
    expect(h.ledger.balance(user)).toEqual({ available: 100 - succeeded, held: 0, consumed: succeeded });
    await last.stop('SIGTERM');
  }, 120_000);

  it('a render whose worker died under it too often fails for good: the generation fails at once, refunded, and frees the slot', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'poison', model: 'imlab-draft' } });
    expect(res.status).toBe(202);
    await h.waitFor(user, res.body.id, ['queued']);
    // What BullMQ's stalled check writes on a job stalled more than maxStalledCount times (its
    // moveStalledJobsToWait script): the next worker to take it fails it without running it.
    const queue = h.ctx.bus.queue('generation-render');
    const job = await eventually(async () => (await queue.getJobs(['waiting'])).find((j) => (j.data as { payload: { generationId: string } }).payload.generationId === res.body.id));
    if (!job) throw new Error('no render job');
    await h.ctx.bus.redis.hset(queue.toKey(job.id!), 'defa', 'job stalled more than allowable limit');
    await h.spawnWorker({ LOCAL_RENDER_MS: '50' });
    const g = await h.waitFor(user, res.body.id, ['failed'], 15_000);
    expect(g.errorCode).toBe('GENERATION_RENDER_ERROR');
    await eventually(() => h.ledger.count('release', res.body.id) === 1);
    expect(h.ledger.count('capture', res.body.id)).toBe(0);
    expect(h.ledger.balance(user)).toEqual({ available: 10, held: 0, consumed: 0 });
    expect(await queue.getJobState(job.id!)).toBe('failed');
  }, 60_000);

  it('SIGTERM lets the running render finish before the worker exits', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const res = await h.api('POST', '/v1/generations', { user, body: { prompt: 'graceful', model: 'imlab-draft' } });
    expect(res.status).toBe(202);
    const w = await h.spawnWorker({ LOCAL_RENDER_MS: '1500' });
    await h.waitFor(user, res.body.id, ['running']).catch(async (err) => {
      const g = await h.api('GET', `/v1/generations/${res.body.id}`, { user });
      throw new Error(`${(err as Error).message}; status ${g.body.status}; worker said: ${w.output()}`);
    });
    const code = await w.stop('SIGTERM');
    expect(code).toBe(0);
    const g = await h.waitFor(user, res.body.id, ['succeeded'], 5000);
    expect(g.images).toHaveLength(1);
    await eventually(() => h.ledger.count('capture', res.body.id) === 1);
  }, 60_000);
});
