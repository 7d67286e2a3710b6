/**
 * The one error type. `code` is stable and namespaced (`LEDGER_INSUFFICIENT_CREDITS`); `status` is
 * the HTTP answer; `retryable: false` becomes BullMQ's UnrecoverableError in queue handlers.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { status?: number; retryable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = opts.status ?? 500;
    this.retryable = opts.retryable ?? this.status >= 500;
    this.details = opts.details;
  }
}

export const notFound = (what: string, code = 'NOT_FOUND') => new AppError(code, `${what} not found`, { status: 404 });
export const forbidden = (message = 'not allowed', code = 'FORBIDDEN') => new AppError(code, message, { status: 403 });
export const unauthenticated = (message = 'sign in first') => new AppError('UNAUTHENTICATED', message, { status: 401 });
/** Every list answers a cursor it did not issue the same way (an empty cursor is the first page). */
export const invalidCursor = () => new AppError('INVALID_CURSOR', 'the cursor is not one this list gave out; start again without it', { status: 400 });
export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, message, { status: 400, details });
