import type { ErrorCode } from '@imlab/contracts';
import { AppError } from '@imlab/http';
import { notYet } from '@imlab/queue';

export const LEDGER_ERROR_CODES = [
  'LEDGER_INSUFFICIENT_CREDITS',
  'LEDGER_IDEMPOTENCY_CONFLICT',
  'LEDGER_CAPTURE_EXCEEDS_HOLD',
  'LEDGER_HOLD_CLOSED',
  'LEDGER_INVARIANT_BROKEN',
  'LEDGER_ACCOUNT_NOT_FOUND',
  'LEDGER_POSTING_OUT_OF_ORDER',
  'LEDGER_CONTENDED',
] as const satisfies readonly ErrorCode[];

/** A reserve the balance covered at every read whose conditional debits all lost to concurrent ones: run again. */
export const reserveContended = () => new AppError('LEDGER_CONTENDED', { message: 'the balance kept moving under this reserve; run again', retryable: true });

export const idempotencyConflict = (key: string) =>
  new AppError('LEDGER_IDEMPOTENCY_CONFLICT', { message: `idempotency key "${key}" was already used for a different request`, retryable: false });

export const captureExceedsHold = (requested: number, held: number) =>
  new AppError('LEDGER_CAPTURE_EXCEEDS_HOLD', { message: `cannot capture ${requested} credits from a hold of ${held}`, retryable: false });

/** A stored balance disagreeing with the holds it backs: never expected, never retried silently. */
export const invariantBroken = (what: string) => new AppError('LEDGER_INVARIANT_BROKEN', { message: what, retryable: false });

/**
 * A command that must follow another posting arrived first (queues do not keep order): run again
 * later, without spending its attempts, until that posting exists, so the two apply in the order
 * they were sent.
 */
export const postingOutOfOrder = (key: string, after: string) =>
  notYet(new AppError('LEDGER_POSTING_OUT_OF_ORDER', { message: `posting "${key}" waits for posting "${after}", which has not arrived yet`, retryable: true }), 250);
