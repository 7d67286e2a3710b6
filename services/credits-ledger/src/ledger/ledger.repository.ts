import { sql, type Db, type Transaction } from '@imlab/db';
import type { Selectable } from 'kysely';
import type { DB, HoldStatus, HoldTable, SystemAccountType, TransferKind } from '../db.js';

/** The two accounts a person has. */
export interface UserAccounts {
  availableId: string;
  heldId: string;
  available: number;
  held: number;
}

export async function findUserAccounts(db: Db<DB>, userId: string): Promise<UserAccounts | undefined> {
  const rows = await db.selectFrom('accounts').select(['id', 'type', 'balance']).where('owner_id', '=', userId).execute();
  const available = rows.find((r) => r.type === 'available');
  const held = rows.find((r) => r.type === 'held');
  if (!available || !held) return undefined;
  return { availableId: available.id, heldId: held.id, available: available.balance, held: held.balance };
}

/** Opens both accounts of a person if missing (concurrent callers converge on one pair). */
export async function createUserAccounts(db: Db<DB>, userId: string): Promise<void> {
  await db
    .insertInto('accounts')
    .values([
      { owner_id: userId, type: 'available' },
      { owner_id: userId, type: 'held' },
    ])
    .onConflict((oc) => oc.columns(['owner_id', 'type']).where('owner_id', 'is not', null).doNothing())
    .execute();
}

export async function systemAccountIds(db: Db<DB>): Promise<Record<SystemAccountType, string>> {
  const rows = await db.selectFrom('accounts').select(['id', 'type']).where('owner_id', 'is', null).execute();
  return Object.fromEntries(rows.map((r) => [r.type, r.id])) as Record<SystemAccountType, string>;
}

/** Adds to a user account; returns the new balance (the row stays locked until commit). */
export async function creditAccount(tx: Transaction<DB>, accountId: string, amount: number): Promise<number> {
  const row = await tx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', amount) }))
    .where('id', '=', accountId)
    .returning('balance')
    .executeTakeFirstOrThrow();
  return row.balance;
}

/**
 * Takes `amount` from a user account only if it is covered, in one statement: the row lock and
 * the check are the same act, so two concurrent debits can never both pass on a stale read.
 * Returns the new balance, or undefined when the balance does not cover it (nothing changed).
 */
export async function debitAccountIfCovered(tx: Transaction<DB>, accountId: string, amount: number): Promise<number | undefined> {
  const row = await tx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '-', amount) }))
    .where('id', '=', accountId)
    .where('balance', '>=', amount)
    .returning('balance')
    .executeTakeFirst();
  return row?.balance;
}

/** Locks a user account row and returns its balance (for decisions that depend on it, e.g. clawback). */
export async function lockAccount(tx: Transaction<DB>, accountId: string): Promise<number> {
  const row = await tx.selectFrom('accounts').select('balance').where('id', '=', accountId).forUpdate().executeTakeFirstOrThrow();
  return row.balance;
}

export async function accountBalance(db: Db<DB>, accountId: string): Promise<number> {
  const row = await db.selectFrom('accounts').select('balance').where('id', '=', accountId).executeTakeFirstOrThrow();
  return row.balance;
}

export async function ownerOf(db: Db<DB>, accountId: string): Promise<string | undefined> {
  const row = await db.selectFrom('accounts').select('owner_id').where('id', '=', accountId).executeTakeFirst();
  return row?.owner_id ?? undefined;
}

export interface NewTransfer {
  debit: string;
  credit: string;
  amount: number;
  kind: TransferKind;
  subjectId: string | null;
  postingId?: number | null;
  holdId?: string | null;
  reference?: string | null;
}

export async function insertTransfers(tx: Transaction<DB>, transfers: NewTransfer[]): Promise<void> {
  if (transfers.length === 0) return;
  await tx
    .insertInto('transfers')
    .values(
      transfers.map((t) => ({
        debit_account_id: t.debit,
        credit_account_id: t.credit,
        amount: t.amount,
        kind: t.kind,
        subject_id: t.subjectId,
        posting_id: t.postingId ?? null,
        hold_id: t.holdId ?? null,
        reference: t.reference ?? null,
      })),
    )
    .execute();
}

// ── postings (grant, clawback, restore): the idempotency record ─────────────────────────────────

/** Inserts the posting record; undefined when the key exists already (waits for a concurrent twin to commit). */
export async function insertPosting(
  tx: Transaction<DB>,
  p: { key: string; requestHash: string; kind: 'grant' | 'clawback' | 'restore'; subjectId: string | null; result?: unknown },
): Promise<number | undefined> {
  const row = await tx
    .insertInto('postings')
    .values({
      idempotency_key: p.key,
      request_hash: p.requestHash,
      kind: p.kind,
      subject_id: p.subjectId,
      ...(p.result === undefined ? {} : { result: JSON.stringify(p.result) }),
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

export async function findPosting(db: Db<DB>, key: string) {
  return db.selectFrom('postings').select(['id', 'request_hash', 'kind', 'result']).where('idempotency_key', '=', key).executeTakeFirst();
}

export async function setPostingResult(tx: Transaction<DB>, id: number, result: unknown): Promise<void> {
  await tx.updateTable('postings').set({ result: JSON.stringify(result) }).where('id', '=', id).execute();
}

/** What a person still owes from clawbacks, net of restores and of returned holds that repaid it. */
export async function outstandingDebt(db: Db<DB>, subjectId: string): Promise<number> {
  const row = await db
    .selectFrom('transfers')
    .select(
      sql<number>`coalesce(sum(case kind when 'clawback_debt' then amount else -amount end), 0)::int8`.as('debt'),
    )
    .where('subject_id', '=', subjectId)
    .where('kind', 'in', DEBT_KINDS)
    .executeTakeFirstOrThrow();
  return row.debt;
}

/** The transfers that move a person's debt (migration 0012 indexes them by person: the debt is read on every returned hold). */
const DEBT_KINDS = ['clawback_debt', 'restore_debt', 'debt_repay'] as const;

/** The posting and reference of the person's newest clawback that left a debt. */
export async function newestDebt(db: Db<DB>, subjectId: string): Promise<{ postingId: number | null; reference: string | null } | undefined> {
  const row = await db
    .selectFrom('transfers')
    .select(['posting_id', 'reference'])
    .where('subject_id', '=', subjectId)
    .where('kind', '=', 'clawback_debt')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { postingId: row.posting_id, reference: row.reference };
}

// ── holds ─────────────────────────────────────────────────────────────────────────────────────────

/** A hold as the capture/release paths read it, with whether it has expired by the database clock. */
export type HoldRow = Omit<Selectable<HoldTable>, 'reason' | 'created_at' | 'resolved_at'> & { expired: boolean };

/** Inserts a new hold; false when a hold with this id exists already (placed, resolved or a tombstone). */
export async function insertHold(
  tx: Transaction<DB>,
  h: { id: string; subjectId: string | null; heldAccountId: string | null; amount: number | null; requestHash: string | null; status: HoldStatus; expiresAt: Date | null; reference: string | null; reason?: string | null },
): Promise<boolean> {
  const row = await tx
    .insertInto('holds')
    .values({
      id: h.id,
      subject_id: h.subjectId,
      held_account_id: h.heldAccountId,
      amount: h.amount,
      request_hash: h.requestHash,
      status: h.status,
      captured: null,
      shortfall: null,
      expires_at: h.expiresAt,
      reference: h.reference,
      reason: h.reason ?? null,
      resolved_at: h.status === 'open' ? null : new Date(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Locks a hold; `expired` is judged by the database clock at the moment of the lock. */
export async function lockHold(tx: Transaction<DB>, id: string): Promise<HoldRow | undefined> {
  return tx
    .selectFrom('holds')
    .select([
      'id',
      'subject_id',
      'held_account_id',
      'amount',
      'request_hash',
      'status',
      'captured',
      'shortfall',
      'expires_at',
      'reference',
      sql<boolean>`expires_at <= clock_timestamp()`.as('expired'),
    ])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

export async function resolveHold(
  tx: Transaction<DB>,
  id: string,
  r: { status: Exclude<HoldStatus, 'open' | 'void'>; captured?: number; shortfall?: number; reason?: string | null },
): Promise<void> {
  await tx
    .updateTable('holds')
    .set({ status: r.status, captured: r.captured ?? null, shortfall: r.shortfall ?? null, reason: r.reason ?? null, resolved_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Claims up to `limit` open holds expired over `graceSeconds` ago; SKIP LOCKED lets several sweepers and captures run side by side. */
export async function claimExpiredHolds(tx: Transaction<DB>, limit: number, graceSeconds = 0): Promise<string[]> {
  const rows = await tx
    .selectFrom('holds')
    .select('id')
    .where('status', '=', 'open')
    .where('expires_at', '<=', sql<Date>`clock_timestamp() - make_interval(secs => ${graceSeconds})`)
    .orderBy('expires_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return rows.map((r) => r.id);
}

// ── single-call postings for the two hottest commands ────────────────────────────────────────────
// One call of a PL/pgSQL function (migrations/0003) instead of a multi-CTE statement plus the outbox
// INSERT: the function's plans are cached per connection, so Postgres no longer parses and plans a
// large statement per posting, and the outbox row rides in the same round trip. Each UPDATE runs
// after the one before it, which fixes the order rows are locked in: available, then held.

/** An outbox row built and validated like Bus.send does; null when nobody subscribes. */
export interface OutboxEvent {
  id: string;
  name: string;
  payload: unknown;
  targets: string[];
}

const eventArgs = (e: OutboxEvent | null) =>
  sql`${e?.id ?? null}::uuid, ${e?.name ?? null}::text, ${e ? JSON.stringify(e.payload) : null}::jsonb, ${e?.targets ?? null}::text[]`;

export interface GrantOutcome {
  /** False when the person has no accounts yet: nothing was written, open them and post again. */
  hasAccount: boolean;
  /** Undefined when nothing was written (idempotency key used already, or no account). */
  postingId: number | undefined;
}

/**
 * Posting record + credit of the available account + the transfer + the event. Writes nothing when
 * the person has no account yet: accounts are always opened before the idempotency key is taken
 * (the order clawback and restore use too), otherwise two first postings of one person could deadlock.
 */
export async function postGrant(
  tx: Transaction<DB>,
  g: { key: string; requestHash: string; userId: string; amount: number; debit: string; kind: TransferKind; reference: string; result: unknown; event: OutboxEvent | null },
): Promise<GrantOutcome> {
  const { rows } = await sql<{ posted_id: number | null; has_account: boolean }>`
    select posted_id, has_account from ledger_post_grant(${g.key}::text, ${g.requestHash}::text, ${g.userId}::uuid, ${g.amount}::int8, ${g.debit}::uuid,
      ${g.kind}::text, ${g.reference}::text, ${JSON.stringify(g.result)}::jsonb, ${eventArgs(g.event)})`.execute(tx);
  const r = rows[0]!;
  return { postingId: r.posted_id ?? undefined, hasAccount: r.has_account };
}

/** A grant for postGrants: postGrant's arguments plus the purchase's value. */
export type GrantRow = Parameters<typeof postGrant>[1] & { value?: { amount: number; currency: string } | undefined };

/**
 * A run of grants in one call (migrations/0011): for each, in order, what postGrant answers for it
 * alone at that point — with the value of each posted purchase kept on its posting.
 */
export async function postGrants(tx: Transaction<DB>, grants: readonly GrantRow[]): Promise<GrantOutcome[]> {
  const arg = grants.map((g) => ({
    key: g.key,
    requestHash: g.requestHash,
    userId: g.userId,
    amount: g.amount,
    debit: g.debit,
    kind: g.kind,
    reference: g.reference,
    result: g.result,
    valueAmount: g.value?.amount ?? null,
    valueCurrency: g.value?.currency ?? null,
    eventId: g.event?.id ?? null,
    eventName: g.event?.name ?? null,
    eventPayload: g.event?.payload ?? null,
    eventTargets: g.event?.targets ?? null,
  }));
  const { rows } = await sql<{ ord: number; posted_id: string | number | null; has_account: boolean }>`
    select ord, posted_id, has_account from ledger_post_grants(${JSON.stringify(arg)}::jsonb)`.execute(tx);
  if (rows.length !== grants.length) throw new Error(`ledger_post_grants answered ${rows.length} rows for ${grants.length} grants`);
  return rows.map((r) => ({ postingId: r.posted_id === null ? undefined : Number(r.posted_id), hasAccount: r.has_account }));
}

/** What a purchase grant's credits were sold for (net of tax), kept on its posting. */
export async function setPostingValue(tx: Transaction<DB>, postingId: number, value: { amount: number; currency: string }): Promise<void> {
  await tx.updateTable('postings').set({ value_amount: value.amount, value_currency: value.currency }).where('id', '=', postingId).execute();
}

export interface ReserveOutcome {
  inserted: boolean;
  /** The person's available account, when they have one. */
  availableId: string | null;
  /** Available balance after the debit; undefined when nothing moved (then no event was written either). */
  after: number | undefined;
}

/** The hold row, and — if the hold is new and the balance covers it — available → held with its transfer and `placed` event. */
export async function postReserve(
  tx: Transaction<DB>,
  r: { holdId: string; userId: string; amount: number; requestHash: string; expiresAt: Date; reference: string; placed: OutboxEvent | null },
): Promise<ReserveOutcome> {
  const { rows } = await sql<{ inserted: boolean; available_id: string | null; after_balance: number | null }>`
    select inserted, available_id, after_balance from ledger_post_reserve(${r.holdId}::uuid, ${r.userId}::uuid, ${r.amount}::int8,
      ${r.requestHash}::text, ${r.expiresAt}::timestamptz, ${r.reference}::text, ${eventArgs(r.placed)})`.execute(tx);
  const row = rows[0]!;
  return { inserted: row.inserted, availableId: row.available_id, after: row.after_balance ?? undefined };
}

/** Links a hold placed before its owner had accounts to the accounts just opened. */
export async function setHoldAccounts(tx: Transaction<DB>, holdId: string, subjectId: string, heldAccountId: string): Promise<void> {
  await tx.updateTable('holds').set({ subject_id: subjectId, held_account_id: heldAccountId }).where('id', '=', holdId).execute();
}

/** A hold of a purged person keeps nothing that could point back at them. */
export async function scrubHold(tx: Transaction<DB>, holdId: string): Promise<void> {
  await tx.updateTable('holds').set({ reference: null, request_hash: 'scrubbed' }).where('id', '=', holdId).execute();
}
