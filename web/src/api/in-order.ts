/**
 * Requests that must reach the server in the order they were made (the account's writes: the
 * profile form and the header's language switch). Each waits for the one before it to answer,
 * so each answer holds every change made before it, and the last answer is what the person left.
 *
 * One that does not answer within `timeoutMs` is aborted, so it cannot hold the writes after it
 * for ever (a request the network lost without telling the browser): it fails like any other
 * (the form says so; the language switch already happened), and the next one goes. Aborting is
 * the browser giving up: a request the server had already taken may still be applied.
 */
export function inOrder(timeoutMs: number) {
  let last: Promise<unknown> = Promise.resolve();
  return function queue<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const run = last.then(() => request(AbortSignal.timeout(timeoutMs)));
    last = run.catch(() => undefined);
    return run;
  };
}
