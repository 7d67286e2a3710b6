import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { eventually } from '@imlab/testing';
import { sql } from '@imlab/db';
import type { AuditRecord } from '@imlab/contracts';
import { startAuth, type TestAuth } from './helpers.js';
import { consumeAuthInbox } from '../src/privacy/inbox.js';
import { auditExportFor, forgetInAudit } from '../src/audit/index.js';

let auth: TestAuth;
let worker: { close(): Promise<void> };
const moderator = uuidv7();
const owner = uuidv7();

async function insertUser(id: string): Promise<void> {
  await auth.ctx.db.insertInto('users').values({ id, email: `${id}@example.com`, email_verified_at: new Date(), password_hash: null, purge_after: null, signup_ip_hash: null }).execute();
}
const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  id: uuidv7(),
  at: new Date().toISOString(),
  service: 'generation',
  actorId: moderator,
  action: 'image.taken-down',
  targetUserId: owner,
  targetIds: { image: uuidv7() },
  reason: 'graphic violence, three reports',
  ...over,
});
const send = (r: AuditRecord) => auth.ctx.db.transaction().execute((tx) => auth.ctx.bus.send(tx, 'audit.record', r));
const row = (id: string) => auth.ctx.db.selectFrom('audit_log').selectAll().where('id', '=', id).executeTakeFirst();

beforeAll(async () => {
  auth = await startAuth('audit');
  await auth.ctx.bus.startRelay();
  worker = consumeAuthInbox(auth.ctx, auth.app.auth.privacy.receipts);
  await insertUser(moderator);
  await insertUser(owner);
});
afterAll(async () => {
  await worker?.close();
  await auth?.close();
});

describe('the audit log', () => {
  it('records what another service sends through its outbox, once however often it arrives', async () => {
    const r = record();
    await send(r);
    await send(r); // a redelivery: the same record id
    const stored = await eventually(() => row(r.id), 15_000);
    expect(stored).toMatchObject({ service: 'generation', actor_id: moderator, action: 'image.taken-down', target_user_id: owner, target_ids: r.targetIds, reason: r.reason });
    expect((await auth.ctx.db.selectFrom('audit_log').select('id').where('id', '=', r.id).execute()).length).toBe(1);
  });

  it('is append-only in the database: no update, delete or truncate', async () => {
    const r = record();
    await send(r);
    await eventually(() => row(r.id), 15_000);
    await expect(auth.ctx.db.updateTable('audit_log').set({ reason: 'nothing happened' }).where('id', '=', r.id).execute()).rejects.toThrow(/append-only/);
    await expect(auth.ctx.db.updateTable('audit_log').set({ target_user_id: moderator }).where('id', '=', r.id).execute()).rejects.toThrow(/append-only/);
    await expect(auth.ctx.db.deleteFrom('audit_log').where('id', '=', r.id).execute()).rejects.toThrow(/append-only/);
    await expect(auth.ctx.db.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_log`.execute(auth.ctx.db)).rejects.toThrow(/append-only/);
    expect((await row(r.id))?.reason).toBe(r.reason);
  });

  it('goes into the export of the person it concerns, not into anyone else\'s', async () => {
    const mine = await auditExportFor(auth.ctx.db, owner);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(mine.every((e) => e.targetUserId === owner)).toBe(true);
    expect(await auditExportFor(auth.ctx.db, moderator)).toEqual([]);
  });

  it('names a purged person nowhere afterwards: their ids are blanked, and a late record does not bring them back', async () => {
    await auth.ctx.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('users').where('id', '=', owner).execute();
      await forgetInAudit(tx, owner);
    });
    const rows = await auth.ctx.db.selectFrom('audit_log').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(owner);
    expect(rows.every((r) => r.actor_id === moderator)).toBe(true);
    const late = record();
    await send(late);
    const stored = await eventually(() => row(late.id), 15_000);
    expect(stored?.target_user_id).toBeNull();
    expect(stored?.actor_id).toBe(moderator);
  });
});
