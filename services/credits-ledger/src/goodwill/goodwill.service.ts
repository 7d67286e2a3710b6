import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from '@imlab/db';
import { AppError } from '@imlab/http';
import type { Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import { grant, requestHash as hashOfRequest, type LedgerDeps } from '../ledger/ledger.service.js';

export interface GoodwillLimits {
  /** At most this many credits in one grant. */
  perGrant: number;
  /** At most this many credits granted by one admin per UTC day. */
  perActorPerDay: number;
}

export interface GoodwillGrantResult {
  postingKey: string;
  userId: string;
  amount: number;
  auditId: string;
  grantedTodayByYou: number;
}

/**
 * A goodwill grant: credits from the `goodwill` system account to the person, posted here at once
 * (no queue: the admin sees the result), capped per grant and per admin per UTC day, recorded in
 * the audit log (through the outbox, same transaction) with the written reason. The person's
 * history shows it as `goodwill`. A person already purged gets nothing (404).
 *
 * Idempotent per admin and `idempotencyKey` (the form's Idempotency-Key): the same request again
 * (an answer lost on the way back, a second click) answers the first grant (`replayed`) and grants
 * nothing; the same key with another recipient, amount or reason is LEDGER_IDEMPOTENCY_CONFLICT.
 * The posting key is derived from the admin and the key (hashed: it names neither).
 */
export async function grantGoodwill(
  db: Kysely<DB>,
  deps: LedgerDeps,
  limits: GoodwillLimits,
  input: { actorId: string; userId: string; amount: number; reason: string; idempotencyKey: string },
): Promise<GoodwillGrantResult & { replayed: boolean }> {
  const postingKey = `goodwill:${hashOfRequest('goodwill-key', [input.actorId, input.idempotencyKey]).slice(0, 40)}`;
  const requestHash = hashOfRequest('goodwill', [input.userId, input.amount, input.reason]);
  return db.transaction().execute(async (tx) => {
    // one admin's grants one at a time: the daily sum below cannot be raced past the cap, and a
    // repeated key waits for the first request and then finds its row
    await sql`select pg_advisory_xact_lock(hashtextextended(${`goodwill:${input.actorId}`}, 0))`.execute(tx);
    const grantedToday = async () =>
      Number(
        (
          await tx
            .selectFrom('goodwill_grants')
            .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), sql<number>`0`).as('total'))
            .where('actor_id', '=', input.actorId)
            .where('created_at', '>=', sql<Date>`date_trunc('day', now() at time zone 'utc') at time zone 'utc'`)
            .executeTakeFirstOrThrow()
        ).total,
      );
    const earlier = await tx.selectFrom('goodwill_grants').selectAll().where('posting_key', '=', postingKey).executeTakeFirst();
    if (earlier) {
      if (earlier.request_hash !== requestHash || !earlier.audit_id) throw new AppError('LEDGER_IDEMPOTENCY_CONFLICT', { message: 'this Idempotency-Key was used for another grant' });
      return { postingKey, userId: earlier.user_id, amount: earlier.amount, auditId: earlier.audit_id, grantedTodayByYou: await grantedToday(), replayed: true };
    }
    if (input.amount > limits.perGrant) throw new AppError('LEDGER_GOODWILL_CAP', { params: { cap: 'grant', limit: limits.perGrant } });
    const spent = await grantedToday();
    if (spent + input.amount > limits.perActorPerDay) throw new AppError('LEDGER_GOODWILL_CAP', { params: { cap: 'day', limit: limits.perActorPerDay } });
    const posted = await grant(tx, deps, { idempotencyKey: postingKey, userId: input.userId, amount: input.amount, source: 'goodwill', reference: 'goodwill' });
    if (posted.amount === 0) throw new AppError('ACCOUNT_NOT_FOUND', { message: 'that account was purged' });
    const auditId = randomUUID();
    await tx
      .insertInto('goodwill_grants')
      .values({ posting_key: postingKey, actor_id: input.actorId, user_id: input.userId, amount: input.amount, audit_id: auditId, request_hash: requestHash })
      .execute();
    await deps.bus.send(tx, 'audit.record', {
      id: auditId,
      at: new Date().toISOString(),
      service: 'credits-ledger',
      actorId: input.actorId,
      action: 'credits.goodwill-granted',
      targetUserId: input.userId,
      targetIds: {},
      reason: `${input.amount} credits: ${input.reason}`.slice(0, 1000),
    });
    return { postingKey, userId: input.userId, amount: input.amount, auditId, grantedTodayByYou: spent + input.amount, replayed: false };
  });
}

/** The purge: rows naming the person as recipient go; as granter, their id is blanked. */
export async function forgetInGoodwill(tx: Transaction<DB>, userId: string): Promise<void> {
  await tx.deleteFrom('goodwill_grants').where('user_id', '=', userId).execute();
  await tx.updateTable('goodwill_grants').set({ actor_id: null }).where('actor_id', '=', userId).execute();
}
