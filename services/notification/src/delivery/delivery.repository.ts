import { sql, type Db } from '@imlab/db';
import type { DB, DeliveryStatus, Locale } from '../db.js';

export interface NewDelivery {
  id: string;
  idempotencyKey: string;
  template: string;
  userId: string | null;
  /** null for the account-deleted email: sent after the purge, it keeps no trace of the address */
  recipientHash: string | null;
  locale: Locale;
  provider: string;
}

const FINAL: DeliveryStatus[] = ['sent', 'failed', 'suppressed', 'bounced', 'complained'];
export const isFinal = (s: DeliveryStatus): boolean => FINAL.includes(s);

export async function findDeliveryByKey(db: Db<DB>, key: string) {
  return db.selectFrom('deliveries').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
}

/**
 * Takes the right to send: creates the row as `sending` with a lease, or moves an existing row
 * from `pending` (or `sending` with an expired lease: its sender died) to `sending`. One
 * statement, so two concurrent deliveries of the same key cannot both win. Returns undefined
 * when someone else holds it or it is already final.
 */
export async function claimDelivery(db: Db<DB>, d: NewDelivery, leaseMs: number) {
  const lease = sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`;
  return db
    .insertInto('deliveries')
    .values({
      ...deliveryColumns(d),
      status: 'sending',
      attempts: 1,
      lease_until: lease,
    })
    .onConflict((oc) =>
      oc
        .column('idempotency_key')
        .doUpdateSet({ status: 'sending', lease_until: lease, attempts: sql`deliveries.attempts + 1`, provider: d.provider, updated_at: sql`now()` })
        .where((eb) => eb.or([eb('deliveries.status', '=', 'pending'), eb.and([eb('deliveries.status', '=', 'sending'), eb('deliveries.lease_until', '<', sql<Date>`now()`)])])),
    )
    .returning(['id', 'status', 'attempts'])
    .executeTakeFirst();
}

/** The columns every new delivery row starts with. */
function deliveryColumns(d: NewDelivery) {
  return {
    id: d.id,
    idempotency_key: d.idempotencyKey,
    template: d.template,
    user_id: d.userId,
    recipient_hash: d.recipientHash,
    locale: d.locale,
    provider: d.provider,
  };
}

/**
 * Records an outcome reached without sending (suppressed, invalid data): creates the row, or
 * finalises a row still `pending` from an earlier attempt. A final row is left as it is.
 */
export async function recordUnsent(db: Db<DB>, d: NewDelivery, status: 'suppressed' | 'failed', reason: string | null) {
  await db
    .insertInto('deliveries')
    .values({
      ...deliveryColumns(d),
      status,
      failure_reason: reason,
    })
    .onConflict((oc) =>
      oc
        .column('idempotency_key')
        .doUpdateSet({ status, failure_reason: reason, lease_until: null, updated_at: sql`now()` })
        .where('deliveries.status', '=', 'pending'),
    )
    .execute();
}

export async function markSent(db: Db<DB>, id: string, providerId: string | null): Promise<void> {
  await db
    .updateTable('deliveries')
    .set({ status: 'sent', provider_id: providerId, lease_until: null, failure_reason: null, sent_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** A retryable failure: back to `pending` with the reason, for the next attempt to claim. */
export async function markPending(db: Db<DB>, id: string, reason: string): Promise<void> {
  await db.updateTable('deliveries').set({ status: 'pending', failure_reason: reason, lease_until: null, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function markFailed(db: Db<DB>, id: string, reason: string): Promise<void> {
  await db.updateTable('deliveries').set({ status: 'failed', failure_reason: reason, lease_until: null, updated_at: sql`now()` }).where('id', '=', id).execute();
}

/** Bounce / complaint reported by the provider for an email we sent. */
export async function markByProviderId(db: Db<DB>, providerId: string, status: 'bounced' | 'complained'): Promise<void> {
  await db.updateTable('deliveries').set({ status, updated_at: sql`now()` }).where('provider_id', '=', providerId).execute();
}

/** user.purge: the log keeps what happened, but nothing that leads back to the person. */
export async function scrubDeliveries(db: Db<DB>, userId: string, recipientHash: string | null): Promise<number> {
  const res = await db
    .updateTable('deliveries')
    .set({
      user_id: null,
      recipient_hash: null,
      failure_reason: null,
      // the provider's id of the message leads to its copy of the mail, recipient included
      provider_id: null,
      // keys like `low-balance:<userId>:…` would keep the link; a hash of the key stays unique
      idempotency_key: sql<string>`case when position(${userId} in idempotency_key) > 0 then 'purged:' || encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex') else idempotency_key end`,
      updated_at: sql`now()`,
    })
    .where((eb) => (recipientHash ? eb.or([eb('user_id', '=', userId), eb('recipient_hash', '=', recipientHash)]) : eb('user_id', '=', userId)))
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function isSuppressed(db: Db<DB>, addressHash: string): Promise<boolean> {
  const row = await db.selectFrom('suppressions').select('address_hash').where('address_hash', '=', addressHash).executeTakeFirst();
  return Boolean(row);
}

export async function addSuppression(db: Db<DB>, addressHash: string, reason: 'bounced' | 'complained', providerEventId: string | null): Promise<void> {
  await db
    .insertInto('suppressions')
    .values({ address_hash: addressHash, reason, provider_event_id: providerEventId })
    .onConflict((oc) => oc.column('address_hash').doNothing())
    .execute();
}
