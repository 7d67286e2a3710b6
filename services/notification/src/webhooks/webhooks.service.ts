import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { addressHash } from '../delivery/address.js';
import { addSuppression, markByProviderId } from '../delivery/delivery.repository.js';

/** The part of a Resend webhook event we read. */
export interface ResendEvent {
  type: string;
  data?: { email_id?: string; to?: string[]; bounce?: { type?: string } };
}

/**
 * email.bounced and email.complained suppress every later send to the addresses involved (by
 * address hash) and mark the delivery. A bounce Resend reports as `Transient` (mailbox full,
 * greylisting) does not suppress: the next email may well arrive. Other events are acknowledged
 * and ignored. Idempotent: Resend may deliver the same event more than once.
 */
export async function handleResendEvent(db: Kysely<DB>, event: ResendEvent, eventId: string): Promise<{ handled: boolean }> {
  if (event.type !== 'email.bounced' && event.type !== 'email.complained') return { handled: false };
  const reason = event.type === 'email.bounced' ? 'bounced' : 'complained';
  if (reason === 'bounced' && event.data?.bounce?.type?.toLowerCase() === 'transient') return { handled: false };
  const addresses = (event.data?.to ?? []).filter((a) => typeof a === 'string' && a.includes('@'));
  await db.transaction().execute(async (tx) => {
    for (const address of addresses) await addSuppression(tx, addressHash(address), reason, eventId);
    if (event.data?.email_id) await markByProviderId(tx, event.data.email_id, reason);
  });
  return { handled: addresses.length > 0 };
}
