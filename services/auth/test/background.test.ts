import { describe, expect, it } from 'vitest';
import { AppError } from '@imlab/http';
import { createLogger } from '@imlab/logger';
import { createBackground } from '../src/lib/background.js';

// Work after the answer (sign-up, resend, forgot): nobody is waiting to hear it failed, so a passing
// failure (Redis or Postgres slow past their bound) must not lose the person's mail.
const logger = createLogger({ service: 'test', level: 'silent' });
const DELAYS = [5, 10, 20];

describe('background work', () => {
  it('runs a task again after a passing failure until it succeeds; drain waits for the retries', async () => {
    const bg = createBackground(logger, DELAYS);
    let calls = 0;
    let done = false;
    bg.run('signup', async () => {
      calls++;
      if (calls < 3) throw new AppError('SERVICE_UNAVAILABLE', { message: 'sign-up and mail limits unavailable' });
      done = true;
    });
    await bg.drain();
    expect({ calls, done }).toEqual({ calls: 3, done: true });
  });

  it('treats an error from the driver (not an AppError) as passing too', async () => {
    const bg = createBackground(logger, DELAYS);
    let calls = 0;
    bg.run('signup', async () => {
      if (++calls === 1) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    });
    await bg.drain();
    expect(calls).toBe(2);
  });

  it('does not repeat a refusal that says it is final, and gives up after the last delay', async () => {
    const bg = createBackground(logger, DELAYS);
    let refused = 0;
    let failing = 0;
    bg.run('resend', async () => {
      refused++;
      throw new AppError('VALIDATION_FAILED', { message: 'not an address' });
    });
    bg.run('forgot', async () => {
      failing++;
      throw new AppError('SERVICE_UNAVAILABLE');
    });
    await bg.drain();
    expect({ refused, failing }).toEqual({ refused: 1, failing: DELAYS.length + 1 });
  });
});
