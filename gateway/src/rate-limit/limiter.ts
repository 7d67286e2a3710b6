import { Redis } from 'ioredis';
import type { Logger } from '@imlab/logger';
import { GCRA_SCRIPT, LocalGcra, intervalMs, type Bucket, type BucketState, type Decision, type GrantedDecision } from './gcra.js';
import { Leases, type LeaseOptions } from './leases.js';

type WithGcra = Redis & { gcra(...args: (string | number)[]): Promise<unknown[]> };

export type DecisionOutcome =
  | ({ source: 'redis' } & Decision)
  | ({ source: 'local' } & Decision)
  | { source: 'unavailable'; allowed: false; retryAfterMs: number; buckets: [] };

export interface Limiter {
  /** One atomic decision over all buckets. `failOpen` decides what happens when Redis cannot answer. */
  decide(buckets: Bucket[], failOpen: boolean): Promise<DecisionOutcome>;
  /** Consumes without deciding (404 counting); errors are swallowed. */
  charge(buckets: Bucket[]): Promise<void>;
  ping(): Promise<void>;
  /** Resolves when connected, or after `ms` (a gateway starts with Redis down and degrades). */
  waitReady(ms: number): Promise<boolean>;
  close(): Promise<void>;
  readonly redis: Redis;
}

/**
 * The Redis client is tuned so that decisions never queue behind an outage: no offline queue (a
 * command fails at once while disconnected), no per-command retries, a short command timeout;
 * reconnection goes on in the background.
 */
export function createLimiter(
  redisUrl: string,
  commandTimeoutMs: number,
  logger: Logger,
  observeBatch?: (decisions: number) => void,
  leaseOptions: LeaseOptions = { max: 0, ttlMs: 1000 },
): Limiter {
  const redis = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    connectionName: 'gateway-rate-limit',
    // No auto-pipelining: decisions are already batched per event-loop turn (DecisionBatcher), and
    // ioredis's own pipelining measured 4–6 % more CPU per request than it saved.
    enableAutoPipelining: false,
  });
  // defineCommand runs the script by its SHA and re-sends the source only after a NOSCRIPT.
  redis.defineCommand('gcra', { lua: GCRA_SCRIPT });
  const scripted = redis as WithGcra;
  let lastErrorLog = 0;
  redis.on('error', (err) => {
    // One line per 10 s: reconnect attempts during an outage would otherwise flood the log.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'rate-limit Redis unavailable');
    }
  });
  const local = new LocalGcra();

  const batches = new DecisionBatcher((keysAndArgs) => scripted.gcra(...keysAndArgs), observeBatch);
  const leases = new Leases((buckets, extra) => batches.decide(buckets, extra), leaseOptions);

  return {
    redis,
    async decide(buckets, failOpen) {
      const out = await leases.decide(buckets);
      if (out) return { source: 'redis', allowed: out.allowed, retryAfterMs: out.retryAfterMs, buckets: out.buckets };
      if (failOpen) return { source: 'local', ...local.decide(buckets) };
      return { source: 'unavailable', allowed: false, retryAfterMs: 5000, buckets: [] };
    },
    async charge(buckets) {
      if (!(await leases.charge(buckets))) local.decide(buckets);
    },
    waitReady(ms) {
      if (redis.status === 'ready') return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          redis.off('ready', onReady);
          resolve(false);
        }, ms);
        const onReady = () => {
          clearTimeout(timer);
          resolve(true);
        };
        redis.once('ready', onReady);
      });
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      // What leases still hold goes back first (bounded by the command timeout when Redis is gone).
      await leases.close();
      redis.disconnect();
    },
  };
}

/** Decisions per Redis call at most: bounds how long one script run holds Redis. */
export const MAX_BATCH = 64;

interface Pending {
  buckets: Bucket[];
  extra: number;
  done(decision: GrantedDecision | undefined): void;
}

/**
 * Gathers the decisions asked for within one turn of the event loop (every request whose headers
 * were read in the same poll) and sends them as one GCRA_SCRIPT call, sent from `setImmediate`
 * so it goes out in the same turn. Under load one round trip then serves tens of requests; when
 * idle a batch holds one decision and waits for nothing. A failed call (Redis down, timeout)
 * answers `undefined` to every decision in it, and each falls back on its own terms.
 */
export class DecisionBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  private readonly call: (keysAndArgs: (string | number)[]) => Promise<unknown[]>;
  private readonly observe?: (decisions: number) => void;
  constructor(
    call: (keysAndArgs: (string | number)[]) => Promise<unknown[]>,
    observe?: (decisions: number) => void,
  ) {
    this.call = call;
    this.observe = observe;
  }

  /** `extra`: requests to take ahead for a lease (granted only when every bucket can pay for them too). */
  decide(buckets: Bucket[], extra = 0): Promise<GrantedDecision | undefined> {
    return new Promise((done) => {
      this.queue.push({ buckets, extra, done });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH) void this.send(queue.slice(i, i + MAX_BATCH));
  };

  private async send(batch: Pending[]): Promise<void> {
    let out: unknown[];
    try {
      this.observe?.(batch.length);
      const keys: string[] = [];
      const argv: number[] = [batch.length];
      for (const { buckets, extra } of batch) {
        argv.push(buckets.length, extra);
        for (const b of buckets) {
          keys.push(b.key, b.alias ?? b.key);
          argv.push(intervalMs(b), b.limit, b.cost);
        }
      }
      out = await this.call([keys.length, ...keys, ...argv]);
    } catch {
      // Whatever failed, every decision in the batch is answered: none is left hanging.
      for (const p of batch) p.done(undefined);
      return;
    }
    let at = 0;
    for (const { buckets, done } of batch) {
      const allowed = out[at] === 1;
      const retryAfterMs = Number(out[at + 1]);
      const granted = Number(out[at + 2]);
      at += 3;
      const states: BucketState[] = [];
      for (let i = 0; i < buckets.length; i++, at += 2) states.push({ remaining: Number(out[at]), resetMs: Number(out[at + 1]) });
      done({ allowed, retryAfterMs, granted, buckets: states });
    }
  }
}
