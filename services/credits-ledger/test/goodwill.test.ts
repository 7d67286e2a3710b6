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
const give = (actorId: string, userId: string, amount: number) => grantGoodwill(L.db, L.deps, limits, { actorId, userId, amount, reason: 'a render outage' });

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
