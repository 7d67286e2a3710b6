import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TS_NODE_ARGS } from '@imlab/testing';
import type { ConsumeOptions, Job, Worker } from '@imlab/queue';
import { sql } from '@imlab/db';
import type { MessageName, Payload } from '@imlab/contracts';
import * as ledger from '../src/ledger/ledger.service.js';
import { accountBalance, findUserAccounts } from '../src/ledger/ledger.repository.js';
import { consumeInbox } from '../src/inbox.js';
import { inMinutes, invariantViolations, startLedger, user, type TestLedger } from './support/ledger.js';

let L: TestLedger;
let worker: Worker | undefined;

beforeAll(async () => {
  L = await startLedger('ledger-queue', { poolSize: 6, env: { LOW_BALANCE_THRESHOLD: '5' } });
  await L.ctx.bus.startRelay();
});
afterAll(async () => {
  await worker?.close();
  await L?.close();
});

/** Stalled jobs are looked for every 500 ms (BullMQ's 30 s default would slow the crash test down). */
function startConsumer() {
  const opts: ConsumeOptions = { concurrency: 8, stalledInterval: 500 };
  worker = consumeInbox(L.ctx, L.deps, opts);
  return worker;
}

/** Sends a command through the outbox (as other services do) and waits for the ledger's answer. */
async function command<N extends MessageName>(name: N, payload: Payload<N>, id = randomUUID()): Promise<unknown> {
  await L.db.transaction().execute((tx) => L.ctx.bus.send(tx, name, payload, { id }));
  const r = await L.ctx.bus.waitForResult('credits-ledger', id, 10_000);
  if (r.timedOut) throw new Error(`${name} ${id} did not finish`);
  return r.result;
}

const sentEvents = (name: string, field: string, value: string) =>
  L.db.selectFrom('outbox').select(['name', 'payload']).where('name', '=', name).where(sql<string>`payload->>${field}`, '=', value).execute();

const grantVia = (userId: string, amount: number) => command('ledger.grant', { idempotencyKey: randomUUID(), userId, amount, source: 'purchase', reference: 'ord_1' });

describe('ledger inbox through the real queue', () => {
  it('answers a reserve the caller waits on, with the shortfall when credits are insufficient', async () => {
    startConsumer();
    const u = user();
    expect(await grantVia(u, 12)).toEqual({ amount: 12, debt: 0 });
    const placed = randomUUID();
    const rejected = randomUUID();
    expect(await command('ledger.reserve', { holdId: placed, userId: u, amount: 8, expiresAt: inMinutes(5), reference: 'gen_a' })).toEqual({ status: 'placed' });
    expect(await command('ledger.reserve', { holdId: rejected, userId: u, amount: 9, expiresAt: inMinutes(5), reference: 'gen_b' })).toEqual({
      status: 'rejected',
      code: 'LEDGER_INSUFFICIENT_CREDITS',
      shortfall: 5,
    });
    expect(await sentEvents('ledger.hold-placed', 'holdId', placed)).toHaveLength(1);
    expect((await sentEvents('ledger.hold-rejected', 'holdId', rejected))[0]?.payload).toMatchObject({ shortfall: 5 });
    // 12 → 4 crosses the threshold of 5 once.
    expect((await sentEvents('ledger.low-balance', 'userId', u)).map((e) => e.payload)).toEqual([{ userId: u, available: 4, threshold: 5 }]);
    expect((await sentEvents('ledger.posted', 'userId', u)).map((e) => e.payload)).toMatchObject([{ kind: 'grant', amount: 12, debt: 0 }]);
  });

  it('applies a message delivered twice (same message id) once', async () => {
    const u = user();
    const id = randomUUID();
    const payload = { idempotencyKey: randomUUID(), userId: u, amount: 10, source: 'promo' as const, reference: 'welcome' };
    expect(await command('ledger.grant', payload, id)).toEqual({ amount: 10, debt: 0 });
    // BullMQ forgot the first job (a different job id), the envelope is the same: the inbox dedupes it.
    const again = await L.ctx.bus.queue('credits-ledger').add('ledger.grant', { id, name: 'ledger.grant', payload, occurredAt: new Date().toISOString() }, { jobId: `${id}-redelivered` });
    await expect(again.waitUntilFinished(await queueEvents(), 10_000)).resolves.toEqual({ amount: 10, debt: 0 });
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 10 });
  });

  it('converges when the sender re-sends a command as a new message with the same idempotency key', async () => {
    const u = user();
    const payload = { idempotencyKey: randomUUID(), userId: u, amount: 3, source: 'purchase' as const, reference: 'ord_2' };
    const results = await Promise.all([command('ledger.grant', payload), command('ledger.grant', payload), command('ledger.grant', payload)]);
    expect(results).toEqual([{ amount: 3, debt: 0 }, { amount: 3, debt: 0 }, { amount: 3, debt: 0 }]);
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 3 });
    await expect(command('ledger.grant', { ...payload, amount: 4 })).rejects.toThrow(/LEDGER_IDEMPOTENCY_CONFLICT/);
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 3 });
  });

  it('does not resurrect a hold whose release or capture arrived before its reserve', async () => {
    const u = user();
    await grantVia(u, 20);
    const released = randomUUID();
    const captured = randomUUID();
    expect(await command('ledger.release', { holdId: released, reason: 'canceled' })).toEqual({ status: 'noop', hold: 'void' });
    expect(await command('ledger.capture', { holdId: captured })).toEqual({ status: 'noop', hold: 'void' });
    for (const holdId of [released, captured]) {
      expect(await command('ledger.reserve', { holdId, userId: u, amount: 6, expiresAt: inMinutes(5), reference: 'gen_late' })).toEqual({
        status: 'rejected',
        code: 'LEDGER_HOLD_CLOSED',
        shortfall: 0,
      });
    }
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 20, held: 0 });
  });

  it('converges whatever order reserve, capture, release and their duplicates arrive in', async () => {
    const u = user();
    await grantVia(u, 1000);
    const holds = Array.from({ length: 30 }, () => randomUUID());
    const messages = holds.flatMap((holdId, i) => {
      const reserve = { name: 'ledger.reserve' as const, payload: { holdId, userId: u, amount: 10, expiresAt: inMinutes(5), reference: `gen_${i}` } };
      const finish = i % 2 ? { name: 'ledger.capture' as const, payload: { holdId, amount: 7 } } : { name: 'ledger.release' as const, payload: { holdId, reason: 'failed' } };
      return [reserve, reserve, finish, finish];
    });
    // Shuffled, sent as separate messages, consumed by 8 concurrent workers.
    messages.sort(() => Math.random() - 0.5);
    const sent = await Promise.all(messages.map((m) => command(m.name, m.payload as never)));
    expect(sent).toHaveLength(120);
    const rows = await L.db.selectFrom('holds').select(['id', 'status']).where('id', 'in', holds).execute();
    let expectedAvailable = 1000;
    for (const [i, holdId] of holds.entries()) {
      const status = rows.find((r) => r.id === holdId)!.status;
      // Placed first and then finished, or finished first (void) and never placed: never open, never twice.
      expect(i % 2 ? ['captured', 'void'] : ['released', 'void']).toContain(status);
      if (status === 'captured') expectedAvailable -= 7;
    }
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: expectedAvailable, held: 0 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('holds a clawback that overtook the grant it names as `after` until the grant is posted: no debt, no credits created', async () => {
    const u = user();
    const grantKey = `order:${randomUUID()}`;
    const clawbackId = randomUUID();
    const clawback = { idempotencyKey: `${grantKey}:refund:250`, userId: u, amount: 50, reference: grantKey, after: grantKey };
    await L.db.transaction().execute((tx) => L.ctx.bus.send(tx, 'ledger.clawback', clawback, { id: clawbackId }));
    // The clawback is tried and sent back to wait (again and again) while no grant exists.
    const job = () => L.ctx.bus.queue('credits-ledger').getJob(clawbackId);
    await eventually(async () => (await (await job())?.getState()) === 'delayed', 10_000, 20);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await findUserAccounts(L.db, u)).toBeUndefined();
    expect(await command('ledger.grant', { idempotencyKey: grantKey, userId: u, amount: 100, source: 'purchase', reference: grantKey })).toEqual({ amount: 100, debt: 0 });
    const r = await L.ctx.bus.waitForResult('credits-ledger', clawbackId, 15_000);
    expect(r).toEqual({ timedOut: false, result: { amount: 50, debt: 0 } });
    expect((await job())!.attemptsMade).toBeLessThanOrEqual(1); // waiting spent no attempts
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 50 });
    const debt = await L.db.selectFrom('transfers').select('id').where('kind', '=', 'clawback_debt').where('reference', '=', grantKey).execute();
    expect(debt).toEqual([]);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('runs a reserve again when concurrent debits win every conditional debit while the balance covers it: no refusal, nothing half done', async () => {
    const u = user();
    await grantVia(u, 20);
    const { availableId, heldId } = (await findUserAccounts(L.db, u))!;
    const balances = async () => ({ available: await accountBalance(L.db, availableId), held: await accountBalance(L.db, heldId) });
    // Every debit of this account loses (as it would to other debits committing in between), while
    // reads still show 20: what three concurrent reserves racing this one look like, every time.
    const trigger = `lose_debits_${availableId.replace(/-/g, '')}`;
    await sql.raw(`create function ${trigger}() returns trigger language plpgsql as $$ begin if new.balance < old.balance then return null; end if; return new; end $$`).execute(L.db);
    await sql.raw(`create trigger ${trigger} before update on accounts for each row when (old.id = '${availableId}') execute function ${trigger}()`).execute(L.db);
    const holdId = randomUUID();
    const id = randomUUID();
    try {
      await L.db.transaction().execute((tx) => L.ctx.bus.send(tx, 'ledger.reserve', { holdId, userId: u, amount: 8, expiresAt: inMinutes(5), reference: 'gen_contended' }, { id }));
      const job = await eventually(async () => {
        const j = await L.ctx.bus.queue('credits-ledger').getJob(id);
        return j && j.attemptsMade >= 1 ? j : undefined;
      }, 10_000);
      expect(job!.failedReason).toMatch(/balance kept moving/);
      expect(job!.opts.attempts).toBeGreaterThan(100); // a money command: retried for days, never dropped
      // Each attempt rolled back whole: no hold, no refusal sent, the credits where they were.
      expect(await L.db.selectFrom('holds').select('id').where('id', '=', holdId).execute()).toEqual([]);
      expect(await sentEvents('ledger.hold-rejected', 'holdId', holdId)).toEqual([]);
      expect(await balances()).toEqual({ available: 20, held: 0 });
    } finally {
      await sql.raw(`drop trigger ${trigger} on accounts`).execute(L.db);
      await sql.raw(`drop function ${trigger}()`).execute(L.db);
    }
    // The debits go through again: the next attempt places the hold.
    const r = await L.ctx.bus.waitForResult('credits-ledger', id, 20_000);
    expect(r).toEqual({ timedOut: false, result: { status: 'placed' } });
    expect(await balances()).toEqual({ available: 12, held: 8 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('rejects a malformed command without retry and changes nothing', async () => {
    const u = user();
    const job = await L.ctx.bus
      .queue('credits-ledger')
      .add('ledger.grant', { id: randomUUID(), name: 'ledger.grant', payload: { idempotencyKey: 'k', userId: u, amount: -5, source: 'purchase', reference: '' }, occurredAt: new Date().toISOString() });
    await expect(job.waitUntilFinished(await queueEvents(), 10_000)).rejects.toThrow(/invalid ledger.grant payload/);
    const fresh = await L.ctx.bus.queue('credits-ledger').getJob(job.id!);
    expect(fresh?.attemptsMade).toBe(1);
    expect(await findUserAccounts(L.db, u)).toBeUndefined();
  });
});

type QueueEvents = Parameters<Job['waitUntilFinished']>[0];
let events: QueueEvents | undefined;
async function queueEvents() {
  if (!events) {
    // waitForResult creates and caches the QueueEvents of this queue; reuse that one.
    await L.ctx.bus.waitForResult('credits-ledger', 'none', 1);
    events = (L.ctx.bus as unknown as { events: Map<string, QueueEvents> }).events.get('credits-ledger');
  }
  return events!;
}

describe('a consumer killed in the middle of a command', () => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // The process started runs the consumer itself (no loader process in between): SIGKILL hits it.
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('leaves no partial transfer, and the redelivered command then applies exactly once', async () => {
    await worker?.close();
    worker = undefined;
    const u = user();
    const holdId = randomUUID();
    await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId: u, amount: 10, source: 'purchase', reference: 'ord' }));
    await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId: u, amount: 10, expiresAt: inMinutes(5), reference: 'gen' }));
    const transfersBefore = await L.db.selectFrom('transfers').select('id').where('hold_id', '=', holdId).execute();

    child = spawn(process.execPath, [...TS_NODE_ARGS, `${here}support/crash-child.ts`], {
      env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: L.config.DATABASE_URL, REDIS_URL: L.config.REDIS_URL, DATABASE_NAME: L.config.DATABASE_NAME, QUEUE_PREFIX: L.config.QUEUE_PREFIX },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const inCommand = new Promise<void>((resolve) => {
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('IN_COMMAND')) resolve();
      });
    });
    await eventually(() => out.includes('READY'), 20_000);
    // A partial capture: two account updates and two transfers, all written, none committed.
    const captureId = randomUUID();
    await L.db.transaction().execute((tx) => L.ctx.bus.send(tx, 'ledger.capture', { holdId, amount: 4 }, { id: captureId }));
    await inCommand;
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));

    expect(await L.db.selectFrom('transfers').select('id').where('hold_id', '=', holdId).execute()).toEqual(transfersBefore);
    expect(await L.db.selectFrom('holds').select('status').where('id', '=', holdId).executeTakeFirst()).toEqual({ status: 'open' });
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 0, held: 10 });
    expect(await L.db.selectFrom('inbox').select('message_id').where('message_id', '=', captureId).execute()).toEqual([]);

    // The job's lock runs out; a new consumer takes the stalled job over and finishes it, once.
    startConsumer();
    await eventually(async () => (await L.db.selectFrom('holds').select('status').where('id', '=', holdId).executeTakeFirst())?.status === 'captured', 45_000, 100);
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 6, held: 0 });
    const kinds = (await L.db.selectFrom('transfers').select('kind').where('hold_id', '=', holdId).orderBy('id').execute()).map((t) => t.kind);
    expect(kinds).toEqual(['reserve', 'capture', 'capture_return']);
    expect(await invariantViolations(L.db)).toEqual([]);
  }, 60_000);
});
