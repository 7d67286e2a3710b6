import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { startAuth, type TestAuth } from './helpers.js';
import { sharedAddressSignals } from '../src/backoffice/fraud.js';
import { authDailyCounts } from '../src/backoffice/metrics.js';

let auth: TestAuth;
beforeAll(async () => {
  auth = await startAuth('backoffice');
});
afterAll(async () => {
  await auth?.close();
});

const hash = (n: number) => n.toString(16).padStart(64, 'a');
async function users(n: number, ipHash: string | null, verified = true): Promise<string[]> {
  const ids = Array.from({ length: n }, () => uuidv7());
  await auth.ctx.db
    .insertInto('users')
    .values(ids.map((id) => ({ id, email: `${id}@example.com`, email_verified_at: verified ? new Date() : null, password_hash: null, purge_after: null, signup_ip_hash: ipHash })))
    .execute();
  return ids;
}

describe('fraud signals: sign-ups sharing an address', () => {
  it('flags every account of an address (its /64 hash) with five or more sign-ups in 30 days, none of an address with four', async () => {
    const many = await users(5, hash(1));
    const few = await users(4, hash(2));
    const signals = await sharedAddressSignals(auth.ctx.db);
    for (const id of many) expect(signals).toContainEqual(expect.objectContaining({ userId: id, signal: 'shared-address', count: 5 }));
    for (const id of few) expect(signals.map((s) => s.userId)).not.toContain(id);
    // ids only: never the address hash
    expect(JSON.stringify(signals)).not.toContain(hash(1));
  });
});

describe('daily metrics of auth', () => {
  it('counts sign-ups and verified addresses per UTC day, nothing per person', async () => {
    const day = new Date().toISOString().slice(0, 10);
    await users(3, null, false);
    const rows = await authDailyCounts(auth.ctx.db, day, day);
    expect(rows).toEqual(expect.arrayContaining([
      { day, metric: 'signups', labels: {}, value: 12 },
      { day, metric: 'verified', labels: {}, value: 9 },
    ]));
    expect(await authDailyCounts(auth.ctx.db, '2000-01-01', '2000-01-02')).toEqual([]);
  });
});
