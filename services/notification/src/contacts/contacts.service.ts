import type { Db, Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import { addressHash } from '../delivery/address.js';
import { scrubDeliveries } from '../delivery/delivery.repository.js';
import { findContact, purgeContact, upsertContact, type ContactInput } from './contacts.repository.js';

export { findContact };

/** user.registered / user.updated: keep the newest known address, locale and name. */
export async function rememberContact(db: Db<DB>, input: ContactInput): Promise<{ stored: boolean }> {
  return { stored: await upsertContact(db, input) };
}

/**
 * user.purge: the contact goes, and the delivery log loses every link to the person (user id,
 * address hash, failure reasons) in the same transaction. Suppressions stay: they are keyed by a
 * hash of an address that asked not to be mailed, not by the person.
 */
export async function purgeUser(tx: Transaction<DB>, userId: string): Promise<{ contactDeleted: boolean; deliveriesScrubbed: number }> {
  const email = await purgeContact(tx, userId);
  const deliveriesScrubbed = await scrubDeliveries(tx, userId, email ? addressHash(email) : null);
  return { contactDeleted: email !== undefined, deliveriesScrubbed };
}
