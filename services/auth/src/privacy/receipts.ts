import { sql, type Db, type Transaction } from '@imlab/db';
import { PURGE_PARTS } from '@imlab/contracts';
import type { Bus } from '@imlab/queue';
import type { DB, DeletionReceiptTable } from '../db.js';
import type { Selectable } from 'kysely';
import type { Config } from '../config.js';
import { sealEmail } from '../accounts/emails.js';

export type DeletionReceipt = Selectable<DeletionReceiptTable>;

/**
 * Deletion receipts: proof that a purge finished everywhere, naming nobody. At the purge auth
 * writes one under a random deletion id (with the address sealed, for the last email), and every
 * service's `user.purge` handler reports its part done under that id (`user.purge-completed`, sent
 * by the bus in the handler's own transaction). When the last part arrives the `account-deleted`
 * email goes to the sealed address, and the address is dropped.
 */
export function createReceipts(deps: { config: Config; bus: Bus }) {
  const { config, bus } = deps;
  return {
    /** In the purge's transaction: the receipt auth's own part opens. */
    async open(tx: Transaction<DB>, user: { email: string; locale: 'en' | 'zh'; purge_after: Date | null }, deletionId: string): Promise<void> {
      await tx
        .insertInto('deletion_receipts')
        .values({ id: deletionId, due_at: user.purge_after ?? new Date(), email_sealed: sealEmail(config, user.email), email_locale: user.locale })
        .execute();
    },

    /** `user.purge-completed`: records the part; the last one completes the receipt and sends the email, once. */
    async partDone(tx: Transaction<DB>, deletionId: string, service: string): Promise<{ complete: boolean; emailed: boolean }> {
      const row = await tx
        .updateTable('deletion_receipts')
        .set({ parts_done: sql`parts_done || jsonb_build_object(${service}::text, to_jsonb(coalesce(parts_done->>${service}, now()::text)))` })
        .where('id', '=', deletionId)
        .returningAll()
        .executeTakeFirst();
      if (!row) return { complete: false, emailed: false };
      const complete = PURGE_PARTS.every((p) => p in row.parts_done);
      if (!complete || row.completed_at) return { complete, emailed: false };
      let emailed = false;
      if (row.email_sealed) {
        // No userId: the person is gone from notification too; `to` carries the sealed address.
        await bus.send(tx, 'email.send', { template: 'account-deleted', to: row.email_sealed, locale: row.email_locale, data: {}, idempotencyKey: `account-deleted:${row.id}` });
        emailed = true;
      }
      await tx.updateTable('deletion_receipts').set({ completed_at: sql<Date>`now()`, email_sealed: null, email_sent_at: emailed ? sql<Date>`now()` : null }).where('id', '=', row.id).execute();
      return { complete, emailed };
    },

    /** How many purges are not finished everywhere (all, or only those due more than `olderThanSeconds` ago). */
    async countIncomplete(db: Db<DB>, olderThanSeconds?: number): Promise<number> {
      let q = db.selectFrom('deletion_receipts').select((eb) => eb.fn.countAll<string>().as('n')).where('completed_at', 'is', null);
      if (olderThanSeconds !== undefined) q = q.where('due_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`);
      return Number((await q.executeTakeFirstOrThrow()).n);
    },

    /** Purges not finished everywhere `olderThanSeconds` after they were due (ops: a service is stuck). */
    async incomplete(db: Db<DB>, olderThanSeconds: number): Promise<{ id: string; dueAt: string; purgedAt: string; partsDone: string[]; partsPending: string[] }[]> {
      const rows = await db
        .selectFrom('deletion_receipts')
        .selectAll()
        .where('completed_at', 'is', null)
        .where('due_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`)
        .orderBy('due_at')
        .limit(500)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        dueAt: r.due_at.toISOString(),
        purgedAt: r.purged_at.toISOString(),
        partsDone: Object.keys(r.parts_done).sort(),
        partsPending: PURGE_PARTS.filter((p) => !(p in r.parts_done)),
      }));
    },
  };
}

export type Receipts = ReturnType<typeof createReceipts>;
