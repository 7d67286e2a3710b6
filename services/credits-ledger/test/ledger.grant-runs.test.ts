import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'kysely';
import { Inbox, type Envelope, type Job } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import * as ledger from '../src/ledger/ledger.service.js';
import { ledgerHandlers } from '../src/ledger/ledger.handlers.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { eventually } from '@imlab/testing';
import { invariantViolations, startLedger, type TestLedger } from './support/ledger.js';

// The inbox's group commit hands a run of `ledger.grant` commands to `ledger.grants`, which posts
// them with one database call (migrations/0011). It must do exactly what `ledger.grant` does for
// each in turn: the same results, balances, postings, transfers and events — for people with
// accounts, people without, purged people, keys used twice (the same request or a different one).
// Only the order across people may differ (a first grant of somebody without accounts is posted
// after the run's call): each person's transfers and events keep their order.

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-grant-runs', { poolSize: 8 });
});
afterAll(async () => {
  await L?.close();
});

interface Op {
  user: number;
  key: number;
  amount: number;
  source: 'purchase' | 'promo' | 'goodwill';
  value: boolean;
}
/** People: 0 and 1 have accounts, 2 has none yet, 3 was purged. Keys: a few, so they repeat. */
const anyOp: fc.Arbitrary<Op> = fc.record({
  user: fc.integer({ min: 0, max: 3 }),
  key: fc.integer({ min: 0, max: 6 }),
  amount: fc.integer({ min: 1, max: 3 }),
  source: fc.constantFrom('purchase' as const, 'promo' as const, 'goodwill' as const),
  value: fc.boolean(),
});
/** Mostly a key's one request (so a repeat is the same request: a duplicate), now and then another. */
const canonical = (key: number): Op => ({ user: key % 4, key, amount: 1 + (key % 3), source: (['purchase', 'promo', 'goodwill'] as const)[key % 3]!, value: key % 2 === 0 });
const opArb: fc.Arbitrary<Op> = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 6 }).map(canonical) }, { weight: 1, arbitrary: anyOp });
/** Key 5 was used before the run, with its canonical request (person 1). */
const USED_BEFORE = 5;

const input = (w: { users: string[]; prefix: string }, op: Op): ledger.GrantInput => ({
  idempotencyKey: `${w.prefix}-k${op.key}`,
  userId: w.users[op.user]!,
  amount: op.amount,
  source: op.source,
  reference: `ref-${op.key % 3}`,
  ...(op.source === 'purchase' && op.value ? { value: { amount: op.amount * 99, currency: 'usd' } } : {}),
});

/** A world of four people, set up as the arbitrary says. */
async function world(): Promise<{ users: string[]; prefix: string }> {
  const users = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const prefix = randomUUID().slice(0, 8);
  await L.run(async (tx) => {
    for (const u of [users[0]!, users[1]!, users[3]!]) await ledger.grant(tx, L.deps, { idempotencyKey: `${prefix}-open-${u}`, userId: u, amount: 5, source: 'promo', reference: 'open' });
    await purgeUser(tx, users[3]!);
    await ledger.grant(tx, L.deps, input({ users, prefix }, canonical(USED_BEFORE)));
  });
  return { users, prefix };
}


/** Stable order by person: each person's rows in the order they were written. */
const byPerson = (rows: string[]) => rows.map((r, i) => ({ r, i, who: /user\d/.exec(r)?.[0] ?? '' })).sort((x, y) => x.who.localeCompare(y.who) || x.i - y.i).map((x) => x.r);

/** What a world holds, with its people's ids and its keys' prefix taken out, so two worlds compare. */
async function stateOf(w: { users: string[]; prefix: string }) {
  const plain = (s: string) => w.users.reduce((acc, u, i) => acc.replaceAll(u, `user${i}`), s.replaceAll(w.prefix, 'P'));
  const balances = await Promise.all(
    w.users.map(async (u) => (await sql<{ type: string; balance: string }>`select type, balance::text from accounts where owner_id = ${u} order by type`.execute(L.db)).rows),
  );
  const postings = (
    await sql<{ key: string; kind: string; result: unknown; value_amount: string | null; value_currency: string | null; hash: string; subject: string | null }>`
      select p.idempotency_key as key, p.kind, p.result, p.value_amount::text, p.value_currency, p.request_hash as hash, a.owner_id::text || ':' || a.type as subject
      from postings p left join accounts a on a.id = p.subject_id where p.idempotency_key like ${`${w.prefix}-k%`} order by p.id`.execute(L.db)
  ).rows
    .map((r) => ({ ...r, key: plain(r.key), hash: r.hash.length, subject: r.subject && plain(r.subject) }))
    .sort((x, y) => x.key.localeCompare(y.key));
  const transfers = (
    await sql<{ owner: string | null; debit: string; own_subject: boolean; kind: string; amount: string; reference: string | null; key: string | null }>`
      select a.owner_id::text as owner, d.type as debit, t.subject_id = a.id as own_subject, t.kind, t.amount::text, t.reference, p.idempotency_key as key
      from transfers t join accounts a on a.id = t.credit_account_id join accounts d on d.id = t.debit_account_id left join postings p on p.id = t.posting_id
      where a.owner_id = any(${w.users}::uuid[]) and t.reference <> 'open' order by t.id`.execute(L.db)
  ).rows.map((r) => plain(JSON.stringify(r)));
  const events = (
    await sql<{ name: string; payload: unknown }>`select name, payload from outbox where payload::text like ${`%${w.prefix}-k%`} order by created_at, id`.execute(L.db)
  ).rows.map((r) => plain(JSON.stringify(r)));
  return { balances, postings, transfers: byPerson(transfers), events: byPerson(events) };
}

/** The outcome of applying `fn` in one transaction: its results, or the error's code. */
async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await fn() };
  } catch (err) {
    return { failed: (err as { code?: string }).code ?? String(err) };
  }
}

describe('a run of grants posted by one call', () => {
  it('gives what the grants give one by one: results, balances, postings, transfers and events', async () => {
    let posted = 0;
    let repeated = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const a = await world();
        const b = await world();
        const together = await outcome(() => L.run((tx) => ledger.grants(tx, L.deps, ops.map((op) => input(a, op)))));
        const oneByOne = await outcome(() =>
          L.run(async (tx) => {
            const out = [];
            for (const op of ops) out.push(await ledger.grant(tx, L.deps, input(b, op)));
            return out;
          }),
        );
        expect(together).toEqual(oneByOne);
        expect(await stateOf(a)).toEqual(await stateOf(b));
        if ('ok' in (together as object)) {
          posted++;
          if (ops.some((op) => op.key === USED_BEFORE) || new Set(ops.map((op) => op.key)).size < ops.length) repeated++;
        }
      }),
      { numRuns: 60 },
    );
    // most runs posted (a conflict rolls a run back and leaves nothing to compare), many with a key used twice
    expect(posted).toBeGreaterThan(30);
    expect(repeated).toBeGreaterThan(10);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('posts every grant of a run with its event, and keeps the purchase values', async () => {
    const w = await world();
    const ops: Op[] = [
      { user: 0, key: 0, amount: 2, source: 'purchase', value: true },
      { user: 1, key: 1, amount: 3, source: 'promo', value: false },
      { user: 0, key: 2, amount: 1, source: 'goodwill', value: false },
      { user: 0, key: 3, amount: 4, source: 'purchase', value: false },
    ];
    const results = await L.run((tx) => ledger.grants(tx, L.deps, ops.map((op) => input(w, op))));
    expect(results).toEqual(ops.map((op) => ({ amount: op.amount, debt: 0 })));
    const s = await stateOf(w);
    expect(s.balances[0]).toEqual([
      { type: 'available', balance: '12' },
      { type: 'held', balance: '0' },
    ]);
    expect(s.postings.filter((p) => p.key !== `P-k${USED_BEFORE}`).map((p) => [p.key, p.value_amount, p.value_currency])).toEqual([
      ['P-k0', '198', 'usd'],
      ['P-k1', null, null],
      ['P-k2', null, null],
      ['P-k3', null, null],
    ]);
    // goodwill is nothing of billing's: no ledger.posted for it
    expect(s.events.map((e) => (JSON.parse(e) as { payload: { idempotencyKey: string } }).payload.idempotencyKey).sort()).toEqual(['P-k0', 'P-k1', 'P-k3']);
  });

  it('never deadlocks when two runs credit the same people at once, whatever plans their statements get', async () => {
    const users = Array.from({ length: 40 }, () => randomUUID());
    await L.run(async (tx) => {
      for (const u of users) await ledger.grant(tx, L.deps, { idempotencyKey: `open-${u}`, userId: u, amount: 1, source: 'promo', reference: 'open' });
    });
    // The order a statement locks rows in is its plan's: one run made to read the accounts by
    // index, in the order of the people's ids; the other by a scan, in the order of the table.
    // DISCARD PLANS: the function's statements were planned before on these connections, and a
    // cached plan would not change with the settings.
    const plans = [sql`set local enable_seqscan = off; discard plans`, sql`set local enable_indexscan = off; set local enable_bitmapscan = off; discard plans`];
    const run = (people: string[], tag: string, plan: (typeof plans)[number]) =>
      L.run(async (tx) => {
        await plan.execute(tx);
        return ledger.grants(tx, L.deps, people.map((u) => ({ idempotencyKey: `${tag}-${u}`, userId: u, amount: 1, source: 'promo' as const, reference: 'run' })));
      });
    for (let round = 0; round < 20; round++) {
      const shuffled = [...users].sort(() => Math.random() - 0.5);
      await Promise.all([run(shuffled, `a${round}`, plans[0]!), run([...shuffled].reverse(), `b${round}`, plans[1]!)]);
    }
    const { rows } = await sql<{ balance: string }>`select balance::text from accounts where type = 'available' and owner_id = any(${users}::uuid[])`.execute(L.db);
    expect(rows.map((r) => r.balance)).toEqual(users.map(() => '41'));
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('a run and a group applied one by one lock two people in opposite orders: Postgres ends one, its messages run again alone, every grant counts once', async () => {
    const people = [randomUUID(), randomUUID()];
    await L.run(async (tx) => {
      for (const u of people) await ledger.grant(tx, L.deps, { idempotencyKey: `open-${u}`, userId: u, amount: 1, source: 'promo', reference: 'open' });
    });
    // A run locks the people's accounts in id order: `low` first.
    const ordered = await sql<{ owner_id: string }>`select owner_id from accounts where type = 'available' and owner_id = any(${people}::uuid[]) order by id`.execute(L.db);
    const [low, high] = ordered.rows.map((r) => r.owner_id) as [string, string];
    const tag = randomUUID().slice(0, 8);
    // Lane B's last grant takes its key, then waits here (still holding `high`, credited by its
    // first grant) until lane A's run holds `low` and waits for `high`.
    await sql.raw(`
      create function test_pause_${tag}() returns trigger language plpgsql as $$
      begin
        if new.idempotency_key = '${tag}-B-low' then perform pg_sleep(1.5); end if;
        return new;
      end $$;
      create trigger test_pause_${tag} before insert on postings for each row execute function test_pause_${tag}();`).execute(L.db);
    try {
      const reasons: string[] = [];
      const log = {
        debug: (o: { reason?: string }) => void (o.reason && reasons.push(o.reason)),
        info: () => {},
        warn: () => {},
        error: () => {},
      } as unknown as Logger;
      const lane = () => new Inbox({ db: L.db, queue: 'credits-ledger', handlers: ledgerHandlers(L.deps), batch: { max: 64, lanes: 1 }, onSent: () => {} });
      const [laneA, laneB] = [lane(), lane()];
      const at = () => new Date().toISOString();
      const grant = (who: string, key: string, amount: number): Envelope => ({ id: randomUUID(), name: 'ledger.grant', payload: { idempotencyKey: `${tag}-${key}`, userId: who, amount, source: 'promo', reference: 'lanes' }, occurredAt: at() });
      const release = (): Envelope => ({ id: randomUUID(), name: 'ledger.release', payload: { holdId: randomUUID(), reason: 'test' }, occurredAt: at() });
      // The first message of each lane runs alone; the rest arrive meanwhile and share the lane's next transaction.
      const apply = (inbox: typeof laneA, messages: Envelope[]) => Promise.all(messages.map((message) => inbox.process({ message, log, job: {} as Job })));
      // B: grant `high`, a release between (so the grants are not one run), grant `low`: one by one, in message order.
      const b = apply(laneB, [release(), grant(high, 'B-high', 10), release(), grant(low, 'B-low', 100)]);
      await eventually(async () => Number((await sql<{ n: string }>`select count(*) as n from pg_stat_activity where wait_event = 'PgSleep' and datname = current_database()`.execute(L.db)).rows[0]!.n) === 1);
      // A: a run of grants to `low` and `high`: one call, which locks `low`, then waits for `high`.
      const a = apply(laneA, [release(), grant(low, 'A-low', 1_000), grant(high, 'A-high', 10_000)]);
      const [resultsA, resultsB] = await Promise.all([a, b]);
      // Postgres found the cycle and ended one lane's transaction; that lane applied its messages alone.
      expect(reasons.some((r) => /deadlock detected/.test(r)), reasons.join('; ')).toBe(true);
      expect(resultsA.slice(1)).toEqual([{ amount: 1_000, debt: 0 }, { amount: 10_000, debt: 0 }]);
      expect([resultsB[1], resultsB[3]]).toEqual([{ amount: 10, debt: 0 }, { amount: 100, debt: 0 }]);
      const balances = await sql<{ owner_id: string; balance: string }>`select owner_id, balance::text from accounts where type = 'available' and owner_id = any(${people}::uuid[])`.execute(L.db);
      expect(Object.fromEntries(balances.rows.map((r) => [r.owner_id, r.balance]))).toEqual({ [low]: String(1 + 100 + 1_000), [high]: String(1 + 10 + 10_000) });
      const postings = await sql<{ n: string }>`select count(*) as n from postings where idempotency_key like ${tag + '-%'}`.execute(L.db);
      expect(Number(postings.rows[0]!.n)).toBe(4);
      expect(await invariantViolations(L.db)).toEqual([]);
    } finally {
      await sql.raw(`drop trigger test_pause_${tag} on postings; drop function test_pause_${tag}();`).execute(L.db);
    }
  });
});
