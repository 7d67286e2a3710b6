import { v7 as uuidv7 } from 'uuid';
import type { EmailTemplate } from '@imlab/contracts';
import type { Db } from '@imlab/db';
import { AppError } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import type { DB, DeliveryStatus, Locale } from '../db.js';
import { findContact, isPurged } from '../contacts/contacts.repository.js';
import { TemplateDataError } from '../mail/data.js';
import { renderEmail } from '../mail/render.js';
import { isSealed, unseal } from '@imlab/queue';
import { addressHash, withoutAddress } from './address.js';
import { claimDelivery, findDeliveryByKey, isFinal, isSuppressed, markFailed, markPending, markSent, recordUnsent, type NewDelivery } from './delivery.repository.js';
import { ProviderError, type Mailer } from './providers/provider.js';

export interface DeliveryDeps {
  /**
   * The pool, not the inbox transaction: delivery state must be committed before and after the
   * provider call, whatever happens to the message's transaction.
   */
  db: Db<DB>;
  mailer: Mailer;
  from: string;
  publicBaseUrl: string;
  /** Opens sealed data values (link tokens travel encrypted through the outbox and Redis). */
  messageSealKey: string;
  /** How long a claimed send stays ours; longer than the provider timeout. */
  leaseMs: number;
  log: Logger;
}

export interface EmailRequest {
  idempotencyKey: string;
  template: EmailTemplate;
  to?: string;
  userId?: string;
  locale?: Locale;
  data: Record<string, string | number | boolean | null>;
  /**
   * No address and no contact yet: wait (retry) for the contact, which may still be on its way;
   * when the attempts run out, a command fails and an event is dropped.
   */
  unknownContact: 'fail' | 'skip';
}

export interface DeliveryOutcome {
  status: DeliveryStatus | 'skipped';
  deliveryId?: string;
  /** The key was already final: nothing was done this time. */
  duplicate?: boolean;
}

/** Where the current attempt stands among the job's attempts. */
export interface Attempt {
  last: boolean;
}

/**
 * Sends one email at most once per idempotency key:
 * 1. a key already final (sent, failed, suppressed) returns its outcome and sends nothing;
 * 2. the recipient is resolved (address, or the contact of userId) and checked against suppressions;
 * 3. the email is rendered (bad data → failed, permanently);
 * 4. the row is claimed (`sending`, leased) in its own committed statement, so a concurrent
 *    duplicate backs off, and a redelivery after a crash finds it;
 * 5. the provider is called with Idempotency-Key = the key: if we die between its answer and
 *    step 6, the retry sends the same key and the provider answers with the same email;
 * 6. the outcome is committed: sent, pending (retryable; the job is retried) or failed.
 */
const PURGED = Symbol('purged');

/**
 * Writes a delivery row that names a person only if they are not purged, under the shared purge
 * lock (held to this short transaction's commit): the contact was read before, without the lock,
 * and a purge committing in between would otherwise be followed by a row carrying their user id
 * and address hash that nothing scrubs again.
 */
async function unlessPurged<T>(db: DeliveryDeps['db'], userId: string | undefined, write: (db: DeliveryDeps['db']) => Promise<T>): Promise<T | typeof PURGED> {
  if (!userId) return write(db);
  return db.transaction().execute(async (tx) => ((await isPurged(tx, userId)) ? PURGED : write(tx)));
}

function skippedAfterPurge(log: Logger, req: EmailRequest): DeliveryOutcome {
  log.info({ template: req.template }, 'user purged meanwhile; email skipped');
  return { status: 'skipped' };
}

export async function deliverEmail(deps: DeliveryDeps, req: EmailRequest, attempt: Attempt): Promise<DeliveryOutcome> {
  const { db, log } = deps;
  const existing = await findDeliveryByKey(db, req.idempotencyKey);
  if (existing && isFinal(existing.status)) return { status: existing.status, deliveryId: existing.id, duplicate: true };

  // An email that names its address (auth's) carries all it needs: the contact is not read, so its
  // display name — typed by whoever signed up, possibly not the inbox's owner — is never put in it.
  const contact = req.userId && !req.to ? await findContact(db, req.userId) : undefined;
  const to = req.to ?? contact?.email;
  if (!to) {
    const purged = req.userId ? await isPurged(db, req.userId) : false;
    if (purged || (attempt.last && req.unknownContact === 'skip')) {
      log.info({ template: req.template, purged }, 'no contact for user; email skipped');
      return { status: 'skipped' };
    }
    throw new AppError('NOTIFICATION_CONTACT_UNKNOWN', { message: 'no address for this user yet', retryable: !attempt.last });
  }
  const locale: Locale = req.locale ?? contact?.locale ?? 'en';
  const row: NewDelivery = {
    id: existing?.id ?? uuidv7(),
    idempotencyKey: req.idempotencyKey,
    template: req.template,
    userId: req.userId ?? null,
    // The last email of a deleted account: the log keeps that it went, not to whom (nothing
    // naming the person outlives the purge, a hash of their address included).
    recipientHash: req.template === 'account-deleted' ? null : addressHash(to),
    locale,
    provider: deps.mailer.name,
  };

  if (await isSuppressed(db, addressHash(to))) {
    if ((await unlessPurged(db, req.userId, (tx) => recordUnsent(tx, row, 'suppressed', null))) === PURGED) return skippedAfterPurge(log, req);
    log.info({ template: req.template, deliveryId: row.id }, 'recipient suppressed; email not sent');
    return { status: 'suppressed', deliveryId: row.id };
  }

  let email;
  try {
    email = renderEmail({ template: req.template, locale, data: openSealed(req.data, deps.messageSealKey), publicBaseUrl: deps.publicBaseUrl, ...(contact ? { displayName: contact.display_name } : {}) });
  } catch (err) {
    if (!(err instanceof TemplateDataError)) throw err;
    if ((await unlessPurged(db, req.userId, (tx) => recordUnsent(tx, row, 'failed', err.message))) === PURGED) return skippedAfterPurge(log, req);
    throw new AppError('NOTIFICATION_INVALID_DATA', { message: err.message, retryable: false });
  }

  const claimed = await unlessPurged(db, req.userId, (tx) => claimDelivery(tx, row, deps.leaseMs));
  if (claimed === PURGED) return skippedAfterPurge(log, req);
  if (!claimed) {
    const now = await findDeliveryByKey(db, req.idempotencyKey);
    if (now && isFinal(now.status)) return { status: now.status, deliveryId: now.id, duplicate: true };
    // Another worker is sending this key right now; look again after a backoff.
    throw new AppError('NOTIFICATION_SEND_IN_PROGRESS', { message: 'this email is being sent by another worker', retryable: true });
  }

  try {
    const sent = await deps.mailer.send({ idempotencyKey: req.idempotencyKey, deliveryId: claimed.id, from: deps.from, to, email });
    // The provider's id leads to its copy of the mail, recipient included: the last email of a
    // deleted account keeps none (as its recipient hash), in the log table or the logs.
    const providerId = req.template === 'account-deleted' ? null : sent.providerId;
    await markSent(db, claimed.id, providerId);
    log.info({ template: req.template, deliveryId: claimed.id, ...(providerId ? { providerId } : {}), attempts: claimed.attempts }, 'email sent');
    return { status: 'sent', deliveryId: claimed.id };
  } catch (err) {
    const reason = withoutAddress(err instanceof Error ? err.message : String(err), to).slice(0, 500);
    const retryable = !(err instanceof ProviderError) || err.retryable;
    if (retryable && !attempt.last) {
      await markPending(db, claimed.id, reason);
      log.warn({ template: req.template, deliveryId: claimed.id, reason }, 'email send failed; will retry');
      throw new AppError('NOTIFICATION_PROVIDER_UNAVAILABLE', { message: reason, retryable: true, cause: err });
    }
    const finalReason = retryable ? `gave up after ${claimed.attempts} attempts: ${reason}` : reason;
    await markFailed(db, claimed.id, finalReason);
    log.warn({ template: req.template, deliveryId: claimed.id, reason: finalReason }, 'email failed permanently');
    throw new AppError('NOTIFICATION_PROVIDER_REJECTED', { message: finalReason, retryable: false, cause: err });
  }
}

/** Sealed values (see @imlab/queue sealed.ts) are opened only here, just before rendering. */
function openSealed(data: Record<string, string | number | boolean | null>, key: string): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(data)) {
    if (!isSealed(v)) out[k] = v;
    else {
      try {
        out[k] = unseal(v, key);
      } catch (err) {
        throw new TemplateDataError(`data.${k} could not be unsealed`, { cause: err });
      }
    }
  }
  return out;
}
