import { errorMessage, statusOf, type CodeWithStatus, type ErrorCode, type ErrorParams, type PlainErrorCode } from '@imlab/contracts';

export interface AppErrorOptions {
  /**
   * For logs and queue failure reasons only (ids, keys, amounts, a provider's answer); never sent
   * to a client. Defaults to the code's English message.
   */
  message?: string;
  retryable?: boolean;
  cause?: unknown;
  /** Extra problem fields (`shortfall`, `retryAfter`, `errors` for VALIDATION_FAILED, …). */
  details?: Record<string, unknown>;
}

/** The options of a code: `params` when its messages take some, required when they need them. */
export type AppErrorArgs<C extends ErrorCode> = undefined extends ErrorParams<C>
  ? [opts?: AppErrorOptions & { params?: ErrorParams<C> }]
  : [opts: AppErrorOptions & { params: ErrorParams<C> }];

/**
 * The one error type. `code` is a registered one (packages/contracts error-codes.ts: an unknown
 * code does not compile) and decides the HTTP status; the problem's `detail` is the code's message
 * in the person's language, rendered with `params`. `retryable: false` becomes BullMQ's
 * UnrecoverableError in queue handlers.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly params: ErrorParams<C> | undefined;

  constructor(code: C, ...[opts = {}]: AppErrorArgs<C>) {
    const o = opts as AppErrorOptions & { params?: ErrorParams<C> };
    super(o.message ?? errorMessage(code, 'en', o.params), { cause: o.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = statusOf(code);
    this.retryable = o.retryable ?? this.status >= 500;
    this.details = o.details;
    this.params = o.params;
  }
}

export const notFound = (what: string, code: CodeWithStatus<404> & PlainErrorCode = 'NOT_FOUND') => new AppError(code, { message: `${what} not found` });
export const forbidden = (message = 'not allowed', code: CodeWithStatus<403> & PlainErrorCode = 'FORBIDDEN') => new AppError(code, { message });
export const unauthenticated = (message = 'sign in first') => new AppError('UNAUTHENTICATED', { message });
/** Every list answers a cursor it did not issue the same way (an empty cursor is the first page). */
export const invalidCursor = () => new AppError('INVALID_CURSOR');
export const badRequest = (code: CodeWithStatus<400> & PlainErrorCode, message: string, details?: Record<string, unknown>) => new AppError(code, { message, details });
