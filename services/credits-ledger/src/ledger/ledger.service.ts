import { createHash } from 'node:crypto';
import type { MessageName } from '@imlab/contracts';
import { prepareMessage } from '@imlab/queue';
import { isPurged, type Transaction } from '@imlab/db';
import type { Bus } from '@imlab/queue';
import type { Payload, LedgerHoldOutcome, LedgerPostingResult, LedgerReserveResult } from '@imlab/contracts';
import type { DB, SystemAccountType, TransferKind } from '../db.js';
import * as repo from './ledger.repository.js';
import { captureExceedsHold, idempotencyConflict, invariantBroken, postingOutOfOrder, reserveContended } from './ledger.errors.js';

export interface LedgerDeps {
  bus: Bus<DB>;
  system: Record<SystemAccountType, string>;
  lowBalanceThreshold: number;
}

type Tx = Transaction<DB>;

/** Outbox writes go through the bus in the caller's transaction. */

/**
 * The outbox row Bus.send would write (validated payload, uuidv7 id, the subscribers), for the
 * postings whose single database call writes the event itself. Null when nobody subscribes.
 */
function outboxEvent<N extends MessageName>(name: N, payload: Payload<N>): repo.OutboxEvent | null {
  return prepareMessage(name, payload);
}

/** The request an idempotency key stands for; same key + different hash = conflict. */
export function requestHash(kind: string, fields: unknown[]): string {
  return createHash('sha256').update(JSON.stringify([kind, ...fields])).digest('hex');
}

async function userAccounts(tx: Tx, userId: string): Promise<repo.UserAccounts> {
  const found = await repo.findUserAccounts(tx, userId);
  if (found) return found;
  await repo.createUserAccounts(tx, userId);
  const created = await repo.findUserAccounts(tx, userId);
  if (!created) throw invariantBroken(`accounts of a user could not be opened`);
  return created;
}

/** Refuses (retryably) a command whose predecessor, named by `after`, is not posted yet. */
async function requirePredecessor(tx: Tx, p: { idempotencyKey: string; after?: string | undefined }): Promise<void> {
  if (p.after !== undefined && !(await repo.findPosting(tx, p.after))) throw postingOutOfOrder(p.idempotencyKey, p.after);
}

async function duplicatePosting(tx: Tx, key: string, hash: string): Promise<LedgerPostingResult> {
  const existing = await repo.findPosting(tx, key);
  if (!existing || existing.request_hash !== hash) throw idempotencyConflict(key);
  return existing.result as LedgerPostingResult;
}

/** Emits `ledger.low-balance` once per crossing from at-or-above the threshold to below it. */
async function noteBalanceDrop(tx: Tx, deps: LedgerDeps, userId: string, before: number, after: number): Promise<void> {
  const t = deps.lowBalanceThreshold;
  if (before >= t && after < t) await deps.bus.send(tx, 'ledger.low-balance', { userId, available: after, threshold: t });
}

/** What a grant, clawback or restore for a purged person does: nothing (there is nobody to credit or charge). */
const PURGED_NOOP: LedgerPostingResult = { amount: 0, debt: 0 };

/** Where granted credits come from, by source. */
const GRANT_SOURCES = {
  purchase: { account: 'issuance', kind: 'grant_purchase' },
  promo: { account: 'promo', kind: 'grant_promo' },
  goodwill: { account: 'goodwill', kind: 'grant_goodwill' },
} as const satisfies Record<string, { account: SystemAccountType; kind: TransferKind }>;

/** A grant as the ledger posts it: the `ledger.grant` command's, or a goodwill grant an admin made here. */
export type GrantInput = Omit<Payload<'ledger.grant'>, 'source'> & { source: keyof typeof GRANT_SOURCES };

/** The posting a grant asks for: the function's arguments, and the result it answers. */
function grantRow(deps: LedgerDeps, p: GrantInput) {
  const hash = requestHash('grant', [p.userId, p.amount, p.source, p.reference]);
  const result: LedgerPostingResult = { amount: p.amount, debt: 0 };
  const debit = deps.system[GRANT_SOURCES[p.source].account];
  const kind = GRANT_SOURCES[p.source].kind;
  // Billing reconciles orders against purchase and promo grants; goodwill is nothing of billing's.
  const event = p.source === 'goodwill' ? null : outboxEvent('ledger.posted', { idempotencyKey: p.idempotencyKey, kind: 'grant', userId: p.userId, ...result, reference: p.reference });
  return { key: p.idempotencyKey, requestHash: hash, userId: p.userId, amount: p.amount, debit, kind, reference: p.reference, result, event, value: p.value };
}

/** Purchase, promo or goodwill credits: issuance/promo/goodwill → available. */
export async function grant(tx: Tx, deps: LedgerDeps, p: GrantInput): Promise<LedgerPostingResult> {
  const row = grantRow(deps, p);
  let posted = await repo.postGrant(tx, row);
  if (!posted.hasAccount) {
    // First credits of this person (or a grant that arrived after their purge): open the accounts, then post.
    if (await isPurged(tx, p.userId)) {
      // Money was paid for a purchase nobody can receive any more: billing refunds it.
      if (p.source === 'purchase') await deps.bus.send(tx, 'ledger.grant-refused', { idempotencyKey: p.idempotencyKey, reference: p.reference });
      return PURGED_NOOP;
    }
    await userAccounts(tx, p.userId);
    posted = await repo.postGrant(tx, row);
  }
  if (posted.postingId === undefined) return duplicatePosting(tx, p.idempotencyKey, row.requestHash);
  // The price its credits are recognised at when spent (finance's revenue report).
  if (p.value) await repo.setPostingValue(tx, posted.postingId, p.value);
  // `ledger.posted` was written by the same call.
  return row.result;
}

/**
 * A run of grants (the inbox's group commit), with the results `grant` gives each in turn: the
 * grants of people with accounts and fresh keys are posted by one call; the others (a first
 * grant, a purged person, a key used before) then go through `grant` one by one, in order.
 */
export async function grants(tx: Tx, deps: LedgerDeps, ps: readonly GrantInput[]): Promise<LedgerPostingResult[]> {
  const rows = ps.map((p) => grantRow(deps, p));
  const outcomes = await repo.postGrants(tx, rows);
  const results: LedgerPostingResult[] = [];
  for (const [i, p] of ps.entries()) results.push(outcomes[i]!.postingId === undefined ? await grant(tx, deps, p) : rows[i]!.result);
  return results;
}

/**
 * available → held for a generation. The hold row is written first: its primary key (the hold id)
 * is what makes a duplicate or late reserve converge, and a tombstone left by an earlier
 * capture/release makes a late reserve a no-op instead of resurrecting the hold.
 */
export async function reserve(tx: Tx, deps: LedgerDeps, p: Payload<'ledger.reserve'>): Promise<LedgerReserveResult> {
  const hash = requestHash('reserve', [p.userId, p.amount]);
  const placed = { holdId: p.holdId, userId: p.userId, amount: p.amount };
  const posted = await repo.postReserve(tx, {
    holdId: p.holdId,
    userId: p.userId,
    amount: p.amount,
    requestHash: hash,
    expiresAt: new Date(p.expiresAt),
    reference: p.reference,
    placed: outboxEvent('ledger.hold-placed', placed),
  });
  if (!posted.inserted) return repeatedReserve(tx, p.holdId, hash);
  if (!posted.availableId) await linkNewcomersHold(tx, p);
  let after = posted.after;
  let balance = 0;
  if (after === undefined && posted.availableId) {
    const acc = (await repo.findUserAccounts(tx, p.userId))!;
    // A concurrent grant may land between the failed debit and this read; then try the debit again.
    for (let attempt = 0; attempt < 3 && after === undefined; attempt++) {
      balance = await repo.accountBalance(tx, acc.availableId);
      if (balance < p.amount) break;
      after = await repo.debitAccountIfCovered(tx, acc.availableId, p.amount);
      if (after !== undefined) {
        await repo.creditAccount(tx, acc.heldId, p.amount);
        await repo.insertTransfers(tx, [
          { debit: acc.availableId, credit: acc.heldId, amount: p.amount, kind: 'reserve', subjectId: acc.availableId, holdId: p.holdId, reference: p.reference },
        ]);
      }
    }
  }
  if (after === undefined && balance >= p.amount) {
    // Covered at every read, yet concurrent debits won each conditional debit: not a shortfall.
    // The whole command rolls back and the bus runs it again.
    throw reserveContended();
  }
  if (after === undefined) {
    const shortfall = p.amount - balance;
    await repo.resolveHold(tx, p.holdId, { status: 'rejected', shortfall });
    await deps.bus.send(tx, 'ledger.hold-rejected', { holdId: p.holdId, userId: p.userId, amount: p.amount, shortfall });
    return { status: 'rejected', code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall };
  }
  await noteBalanceDrop(tx, deps, p.userId, after + p.amount, after);
  // The single call wrote `ledger.hold-placed` itself when its debit went through; the retry path did not.
  if (posted.after === undefined) await deps.bus.send(tx, 'ledger.hold-placed', placed);
  return { status: 'placed' };
}

/**
 * A reserve by someone who never had credits (no accounts yet) is rejected, but its hold row
 * keeps a request hash and a reference that point back at them; without an account link a purge
 * could not find it. The accounts are opened and the hold linked to them; after a purge
 * (tombstone) the hold is scrubbed at once instead.
 */
async function linkNewcomersHold(tx: Tx, p: Payload<'ledger.reserve'>): Promise<void> {
  if (await isPurged(tx, p.userId)) return repo.scrubHold(tx, p.holdId);
  const acc = await userAccounts(tx, p.userId);
  await repo.setHoldAccounts(tx, p.holdId, acc.availableId, acc.heldId);
}

async function repeatedReserve(tx: Tx, holdId: string, hash: string): Promise<LedgerReserveResult> {
  const hold = await repo.lockHold(tx, holdId);
  if (!hold) throw invariantBroken('hold vanished');
  if (hold.status === 'void') return { status: 'rejected', code: 'LEDGER_HOLD_CLOSED', shortfall: 0 };
  if (hold.request_hash !== hash) throw idempotencyConflict(holdId);
  if (hold.status === 'rejected') return { status: 'rejected', code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall: hold.shortfall ?? 0 };
  return { status: 'placed' };
}

/**
 * Locks the hold, or, when no reserve has arrived yet, leaves a `void` tombstone so that the late
 * reserve cannot place it. A reserve racing us holds the primary key: the insert then waits for it
 * and we read its hold instead.
 */
async function lockOrTombstone(tx: Tx, holdId: string, reason: string): Promise<repo.HoldRow | undefined> {
  for (;;) {
    const hold = await repo.lockHold(tx, holdId);
    if (hold) return hold;
    const tombstoned = await repo.insertHold(tx, {
      id: holdId,
      subjectId: null,
      heldAccountId: null,
      amount: null,
      requestHash: null,
      status: 'void',
      expiresAt: null,
      reference: null,
      reason,
    });
    if (tombstoned) return undefined;
  }
}

/** held → available for the whole hold (release or expiry). Account locks: available, then held. */
async function returnHold(tx: Tx, deps: Pick<LedgerDeps, 'system'>, hold: repo.HoldRow, kind: 'release' | 'expire', reason: string | null): Promise<number> {
  const amount = hold.amount!;
  await repo.creditAccount(tx, hold.subject_id!, amount);
  const held = await repo.debitAccountIfCovered(tx, hold.held_account_id!, amount);
  if (held === undefined) throw invariantBroken(`held balance does not cover hold ${hold.id}`);
  await repo.insertTransfers(tx, [
    { debit: hold.held_account_id!, credit: hold.subject_id!, amount, kind, subjectId: hold.subject_id, holdId: hold.id, reference: hold.reference },
  ]);
  await repo.resolveHold(tx, hold.id, { status: kind === 'release' ? 'released' : 'expired', reason });
  await collectDebt(tx, deps, hold.subject_id!, amount);
  return amount;
}

/**
 * Credits a hold gives back first pay what the person still owes from clawbacks. A refund or
 * dispute takes only what is available (`clawback`); credits held for generations at that moment
 * are out of its reach and recorded as debt. Without this, releasing those holds (a cancel, a
 * failure, an expiry, the unrendered part of a capture) would make credits whose money went back
 * spendable again. Runs after the available account was credited in the same transaction (its row
 * lock serialises this with the person's clawbacks and restores, as they read the debt under the
 * same lock); available → debt, at most `returned`, as `debt_repay` on the newest clawback's
 * posting and reference (its order: the revenue subledger takes the credits from that order's lot).
 */
async function collectDebt(tx: Tx, deps: Pick<LedgerDeps, 'system'>, availableId: string, returned: number): Promise<number> {
  const owed = await repo.outstandingDebt(tx, availableId);
  const repaid = Math.min(owed, returned);
  if (repaid <= 0) return 0;
  if ((await repo.debitAccountIfCovered(tx, availableId, repaid)) === undefined) throw invariantBroken('returned credits moved');
  const debt = await repo.newestDebt(tx, availableId);
  await repo.insertTransfers(tx, [
    { debit: availableId, credit: deps.system.debt, amount: repaid, kind: 'debt_repay', subjectId: availableId, postingId: debt?.postingId ?? null, reference: debt?.reference ?? null },
  ]);
  return repaid;
}

async function expireHold(tx: Tx, deps: LedgerDeps, hold: repo.HoldRow): Promise<number> {
  const returned = await returnHold(tx, deps, hold, 'expire', 'expired');
  const userId = await repo.ownerOf(tx, hold.subject_id!);
  if (userId) await deps.bus.send(tx, 'ledger.hold-expired', { holdId: hold.id, userId, amount: returned });
  return returned;
}

/**
 * held → consumed (all, or `amount` with the rest back to available). A capture is judged by when
 * it was issued (`issuedAt`, the message's occurredAt: when generation committed the success), not
 * when it arrives: one issued before the hold's expiry captures while the hold is still open, even
 * if a backlog or an outage delivered it late (the sweeper leaves expired holds open for
 * HOLD_EXPIRY_GRACE). One issued after the expiry, or without a time, releases the hold instead.
 */
export async function capture(tx: Tx, deps: LedgerDeps, p: Payload<'ledger.capture'>, issuedAt?: Date): Promise<LedgerHoldOutcome> {
  const hold = await lockOrTombstone(tx, p.holdId, 'capture before reserve');
  if (!hold) return { status: 'noop', hold: 'void' };
  if (hold.status !== 'open') return { status: 'noop', hold: hold.status };
  const issuedInTime = issuedAt !== undefined && hold.expires_at !== null && issuedAt.getTime() < hold.expires_at.getTime();
  if (hold.expired && !issuedInTime) return { status: 'expired', returned: await expireHold(tx, deps, hold) };
  const amount = hold.amount!;
  const take = p.amount ?? amount;
  if (take > amount) throw captureExceedsHold(take, amount);
  const rest = amount - take;
  if (rest > 0) await repo.creditAccount(tx, hold.subject_id!, rest);
  const held = await repo.debitAccountIfCovered(tx, hold.held_account_id!, amount);
  if (held === undefined) throw invariantBroken(`held balance does not cover hold ${hold.id}`);
  const base = { subjectId: hold.subject_id, holdId: hold.id, reference: hold.reference };
  await repo.insertTransfers(tx, [
    ...(take > 0 ? [{ ...base, debit: hold.held_account_id!, credit: deps.system.consumed, amount: take, kind: 'capture' as const }] : []),
    ...(rest > 0 ? [{ ...base, debit: hold.held_account_id!, credit: hold.subject_id!, amount: rest, kind: 'capture_return' as const }] : []),
  ]);
  await repo.resolveHold(tx, hold.id, { status: 'captured', captured: take });
  if (rest > 0) await collectDebt(tx, deps, hold.subject_id!, rest);
  return { status: 'captured', captured: take, returned: rest };
}

export async function release(tx: Tx, deps: LedgerDeps, p: Payload<'ledger.release'>): Promise<LedgerHoldOutcome> {
  const hold = await lockOrTombstone(tx, p.holdId, p.reason);
  if (!hold) return { status: 'noop', hold: 'void' };
  if (hold.status !== 'open') return { status: 'noop', hold: hold.status };
  return { status: 'released', returned: await returnHold(tx, deps, hold, 'release', p.reason) };
}

/**
 * Releases up to `limit` holds expired more than `graceSeconds` ago in one transaction. Accounts are locked in ascending
 * account id order (available before held per user), the same global order as any other writer,
 * so a sweep never deadlocks with captures or with another sweeper.
 */
export async function expireDue(tx: Tx, deps: LedgerDeps, limit = 100, graceSeconds = 0): Promise<number> {
  const ids = await repo.claimExpiredHolds(tx, limit, graceSeconds);
  const holds: repo.HoldRow[] = [];
  for (const id of ids) {
    const hold = await repo.lockHold(tx, id);
    if (hold && hold.status === 'open') holds.push(hold);
  }
  holds.sort((a, b) => (a.subject_id! < b.subject_id! ? -1 : a.subject_id! > b.subject_id! ? 1 : 0));
  for (const hold of holds) await expireHold(tx, deps, hold);
  return holds.length;
}

/** Refund or dispute: takes back what is still available; the rest is recorded against the debt account. */
export async function clawback(tx: Tx, deps: LedgerDeps, p: Payload<'ledger.clawback'>): Promise<LedgerPostingResult> {
  if (await isPurged(tx, p.userId)) return PURGED_NOOP;
  await requirePredecessor(tx, p);
  const hash = requestHash('clawback', [p.userId, p.amount, p.reference]);
  const acc = await userAccounts(tx, p.userId);
  const postingId = await repo.insertPosting(tx, { key: p.idempotencyKey, requestHash: hash, kind: 'clawback', subjectId: acc.availableId });
  if (postingId === undefined) return duplicatePosting(tx, p.idempotencyKey, hash);
  const before = await repo.lockAccount(tx, acc.availableId);
  const take = Math.min(before, p.amount);
  const debt = p.amount - take;
  if (take > 0 && (await repo.debitAccountIfCovered(tx, acc.availableId, take)) === undefined) throw invariantBroken('locked balance moved');
  const base = { subjectId: acc.availableId, postingId, reference: p.reference };
  await repo.insertTransfers(tx, [
    ...(take > 0 ? [{ ...base, debit: acc.availableId, credit: deps.system.issuance, amount: take, kind: 'clawback' as const }] : []),
    ...(debt > 0 ? [{ ...base, debit: deps.system.debt, credit: deps.system.issuance, amount: debt, kind: 'clawback_debt' as const }] : []),
  ]);
  const result: LedgerPostingResult = { amount: take, debt };
  await repo.setPostingResult(tx, postingId, result);
  await noteBalanceDrop(tx, deps, p.userId, before, before - take);
  await deps.bus.send(tx, 'ledger.posted', { idempotencyKey: p.idempotencyKey, kind: 'clawback', userId: p.userId, ...result, reference: p.reference });
  return result;
}

/** Dispute won: first cancels what the person still owes, then credits the rest back to available. */
export async function restore(tx: Tx, deps: LedgerDeps, p: Payload<'ledger.restore'>): Promise<LedgerPostingResult> {
  if (await isPurged(tx, p.userId)) return PURGED_NOOP;
  await requirePredecessor(tx, p);
  const hash = requestHash('restore', [p.userId, p.amount, p.reference]);
  const acc = await userAccounts(tx, p.userId);
  const postingId = await repo.insertPosting(tx, { key: p.idempotencyKey, requestHash: hash, kind: 'restore', subjectId: acc.availableId });
  if (postingId === undefined) return duplicatePosting(tx, p.idempotencyKey, hash);
  // The row lock serialises this with the person's clawbacks, so the debt read below is stable.
  await repo.lockAccount(tx, acc.availableId);
  const owed = await repo.outstandingDebt(tx, acc.availableId);
  const repaid = Math.min(owed, p.amount);
  const give = p.amount - repaid;
  if (give > 0) await repo.creditAccount(tx, acc.availableId, give);
  const base = { subjectId: acc.availableId, postingId, reference: p.reference };
  await repo.insertTransfers(tx, [
    ...(repaid > 0 ? [{ ...base, debit: deps.system.issuance, credit: deps.system.debt, amount: repaid, kind: 'restore_debt' as const }] : []),
    ...(give > 0 ? [{ ...base, debit: deps.system.issuance, credit: acc.availableId, amount: give, kind: 'restore' as const }] : []),
  ]);
  const result: LedgerPostingResult = { amount: give, debt: repaid };
  await repo.setPostingResult(tx, postingId, result);
  await deps.bus.send(tx, 'ledger.posted', { idempotencyKey: p.idempotencyKey, kind: 'restore', userId: p.userId, ...result, reference: p.reference });
  return result;
}
