import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantGoodwill } from '../src/goodwill/goodwill.service.js';
import { balanceOf, movementsOf } from '../src/credits/credits.service.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import * as finance from '../src/finance/finance.service.js';
import { startLedger, type TestLedger } from './support/ledger.js';

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-goodwill');
});
afterAll(async () => {
  await L?.close();
});

const limits = { perGrant: 20, perActorPerDay: 30 };
const give = (actorId: string, userId: string, amount: number, idempotencyKey: string = randomUUID(), reason = 'a render outage') =>
  grantGoodwill(L.db, L.deps, limits, { actorId, userId, amount, reason, idempotencyKey });

describe('goodwill credits', () => {
  it('post from the goodwill account, show as goodwill in the history, and keep the books balanced', async () => {
    const admin = randomUUID();
    const person = randomUUID();
    const r = await give(admin, person, 12);
    expect(r).toMatchObject({ userId: person, amount: 12, grantedTodayByYou: 12 });
    expect(await balanceOf(L.db, person)).toEqual({ available: 12, held: 0 });
    const history = await movementsOf(L.db, person, null, 10, 'en');
    expect(history.items[0]).toMatchObject({ kind: 'goodwill', amount: 12, description: 'Goodwill credits from our support team — 12 credits' });
    expect((await movementsOf(L.db, person, null, 10, 'zh')).items[0]!.description).toBe('客服补偿积分 — 12 积分');
    const tb = await finance.trialBalance(L.db, null);
    expect(tb.lines.find((l) => l.type === 'goodwill')?.balance).toBeLessThanOrEqual(-12);
    expect(tb.totals.balance).toBe(0);
    const audits = await L.db.selectFrom('outbox').select('payload').where('name', '=', 'audit.record').execute();
    expect(audits.map((a) => a.payload)).toContainEqual(expect.objectContaining({ id: r.auditId, actorId: admin, targetUserId: person, action: 'credits.goodwill-granted' }));
  });

  it('refuses a grant over the per-grant cap or over the admin\'s daily cap, and posts nothing then', async () => {
    const admin = randomUUID();
    const person = randomUUID();
    await expect(give(admin, person, 21)).rejects.toMatchObject({ code: 'LEDGER_GOODWILL_CAP' });
    await give(admin, person, 20);
    await expect(give(admin, person, 11)).rejects.toMatchObject({ code: 'LEDGER_GOODWILL_CAP' });
    await give(admin, person, 10);
    expect((await balanceOf(L.db, person)).available).toBe(30);
    // concurrent grants cannot race past the daily cap
    const other = randomUUID();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => give(other, person, 10)));
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(3);
    expect((await balanceOf(L.db, person)).available).toBe(60);
  });

  it('the same request again with the same key answers the first grant and grants nothing, even when sent at once or after the cap is reached', async () => {
    const admin = randomUUID();
    const person = randomUUID();
    const key = randomUUID();
    // five copies of one request at once (a double click, a retry racing the first): one grant
    const all = await Promise.all(Array.from({ length: 5 }, () => give(admin, person, 20, key)));
    expect(all.filter((r) => !r.replayed)).toHaveLength(1);
    const first = all.find((r) => !r.replayed)!;
    for (const r of all) expect(r).toMatchObject({ postingKey: first.postingKey, auditId: first.auditId, amount: 20, userId: person });
    expect((await balanceOf(L.db, person)).available).toBe(20);
    // the day's cap is nearly used: a replay still answers, a new grant is refused
    await give(admin, person, 10);
    const again = await give(admin, person, 20, key);
    expect(again).toMatchObject({ replayed: true, auditId: first.auditId, grantedTodayByYou: 30 });
    await expect(give(admin, person, 1)).rejects.toMatchObject({ code: 'LEDGER_GOODWILL_CAP' });
    expect((await balanceOf(L.db, person)).available).toBe(30);
    const audits = await L.db.selectFrom('outbox').select('payload').where('name', '=', 'audit.record').execute();
    expect(audits.filter((a) => (a.payload as { id: string }).id === first.auditId)).toHaveLength(1);
    expect(audits.filter((a) => (a.payload as { targetUserId: string }).targetUserId === person)).toHaveLength(2);
  });

  it('the same key with another recipient, amount or reason is refused and changes nothing; another admin\'s key is their own', async () => {
    const admin = randomUUID();
    const person = randomUUID();
    const key = randomUUID();
    await give(admin, person, 5, key);
    await expect(give(admin, person, 6, key)).rejects.toMatchObject({ code: 'LEDGER_IDEMPOTENCY_CONFLICT' });
    await expect(give(admin, randomUUID(), 5, key)).rejects.toMatchObject({ code: 'LEDGER_IDEMPOTENCY_CONFLICT' });
    await expect(give(admin, person, 5, key, 'another reason')).rejects.toMatchObject({ code: 'LEDGER_IDEMPOTENCY_CONFLICT' });
    expect((await balanceOf(L.db, person)).available).toBe(5);
    // the key is scoped to the admin: another admin using the same string grants on their own
    const other = await give(randomUUID(), person, 5, key);
    expect(other.replayed).toBe(false);
    expect((await balanceOf(L.db, person)).available).toBe(10);
    // the posting key names neither the admin nor the key
    expect(other.postingKey).not.toContain(key);
    expect(other.postingKey).not.toContain(admin);
  });

  it('a purge forgets the person in goodwill records, as recipient and as granter', async () => {
    const admin = randomUUID();
    const person = randomUUID();
    await give(admin, person, 5);
    await give(person, randomUUID(), 5);
    await L.run((tx) => purgeUser(tx, person));
    const rows = await L.db.selectFrom('goodwill_grants').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(person);
    expect(rows.some((r) => r.actor_id === null)).toBe(true);
  });
});
