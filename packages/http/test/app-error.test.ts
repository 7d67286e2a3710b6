import { describe, expect, it } from 'vitest';
import { AppError, badRequest, notFound, problem } from '../src/index.js';

describe('AppError', () => {
  it('takes its status from the registry and its log message from the code unless given one', () => {
    const e = new AppError('LEDGER_CONTENDED');
    expect(e).toMatchObject({ code: 'LEDGER_CONTENDED', status: 503, retryable: true, message: 'The balance is busy; please try again.' });
    const withLog = new AppError('LEDGER_IDEMPOTENCY_CONFLICT', { message: 'key k-1 reused', retryable: false });
    expect(withLog).toMatchObject({ status: 409, retryable: false, message: 'key k-1 reused' });
    expect(notFound('upload', 'UPLOAD_NOT_FOUND')).toMatchObject({ status: 404, code: 'UPLOAD_NOT_FOUND', message: 'upload not found' });
    expect(new AppError('GENERATION_PROMPT_TOO_LONG', { params: { maxChars: 9 } }).message).toBe('The prompt is longer than 9 characters.');
  });

  it('accepts registered codes only, with the parameters their messages need (checked by the compiler)', () => {
    // Never run: the compiler's verdict is the test (`pnpm run typecheck` fails when a line below compiles).
    const compileOnly = () => {
      // @ts-expect-error an unknown code does not compile
      void new AppError('DEMO_TEAPOT');
      // @ts-expect-error a code whose message needs parameters needs them
      void new AppError('GENERATION_PROMPT_TOO_LONG');
      // @ts-expect-error and of the right shape
      void new AppError('GENERATION_PROMPT_TOO_LONG', { params: { maxLength: 9 } });
      // @ts-expect-error the status is the registry's, not the raiser's
      void new AppError('NOT_FOUND', { status: 410 });
      // @ts-expect-error the helpers take codes of their own status only (UNAUTHENTICATED is a 401)
      void notFound('thing', 'UNAUTHENTICATED');
      // @ts-expect-error BILLING_PACK_NOT_FOUND is a 404, not a 400
      void badRequest('BILLING_PACK_NOT_FOUND', 'x');
      // @ts-expect-error problem() too
      void problem('NOPE', 'en');
    };
    expect(typeof compileOnly).toBe('function');
    expect(new AppError('PAYLOAD_TOO_LARGE').status).toBe(413);
  });

  it('builds problem bodies with the status phrase as title and the message as detail', () => {
    expect(problem('PAYLOAD_TOO_LARGE', 'zh', { params: { maxBytes: 10 }, extra: { limit: 10 } })).toEqual({
      type: 'about:blank',
      title: '内容过大',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      detail: '请求体过大，最多接受 10 字节。',
      limit: 10,
    });
    expect(problem('VALIDATION_FAILED', 'en', { reason: 'the body is not valid JSON' })).toMatchObject({
      status: 400,
      detail: 'The request is not valid; the errors list says what to change.',
      errors: [{ path: 'request', message: 'the body is not valid JSON' }],
    });
  });
});
