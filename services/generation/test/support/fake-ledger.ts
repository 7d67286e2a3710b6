import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import { type QueueTables } from '@imlab/queue';
import { createServiceContext, type ServiceContext } from '@imlab/service';
import { createTestDatabase, infra } from '@imlab/testing';

type HoldState = 'held' | 'captured' | 'released' | 'expired';
interface Hold {
  userId: string;
  amount: number;
  state: HoldState;
  captures: number;
  /** What a capture took (all of `amount` unless the capture named less). */
  captured?: number;
}

/**
 * A stand-in for the credits ledger that answers ledger.reserve / capture / release exactly as the
 * contract says, on the real queues, with balances in memory. Strict: a second capture, a capture
 * after release or a release after capture is recorded as a violation, so tests can assert that
 * the saga never charges twice.
 */
export class FakeLedger {
  readonly available = new Map<string, number>();
  readonly holds = new Map<string, Hold>();
  readonly violations: string[] = [];
  readonly received: { name: string; holdId: string }[] = [];
  /** Holds whose capture arrives after the ledger's expiry (a capture delayed past it). */
  readonly expiresBeforeCapture = new Set<string>();
  private ctx!: ServiceContext<QueueTables>;

  static async start(prefix: string): Promise<FakeLedger> {
    const ledger = new FakeLedger();
    const db = await createTestDatabase('fake_ledger');
    ledger.ctx = await createServiceContext<QueueTables>({
      service: 'credits-ledger',
      logger: createLogger({ service: 'fake-ledger', level: 'silent' }),
      databaseUrl: infra().databaseUrl,
      databaseName: db.name,
      redisUrl: infra().redisUrl,
      queuePrefix: prefix,
      migrationsFolder: fileURLToPath(new URL('../fixtures/no-migrations', import.meta.url)),
      migrate: true,
      poolSize: 3,
    });
    ledger.listen();
    await ledger.ctx.bus.startRelay();
    return ledger;
  }

  grant(userId: string, credits: number): void {
    this.available.set(userId, (this.available.get(userId) ?? 0) + credits);
  }

  balance(userId: string): { available: number; held: number; consumed: number } {
    let held = 0;
    let consumed = 0;
    for (const h of this.holds.values()) {
      if (h.userId !== userId) continue;
      if (h.state === 'held') held += h.amount;
      if (h.state === 'captured') consumed += h.captured ?? h.amount;
    }
    return { available: this.available.get(userId) ?? 0, held, consumed };
  }

  /** The ledger's own expiry: credits go back, and generation hears ledger.hold-expired. */
  async expire(holdId: string): Promise<void> {
    const h = this.holds.get(holdId);
    if (!h || h.state !== 'held') throw new Error(`hold ${holdId} is not held`);
    await this.ctx.db.transaction().execute(async (tx) => {
      await this.ctx.bus.send(tx, 'ledger.hold-expired', { holdId, userId: h.userId, amount: h.amount });
    });
    h.state = 'expired';
    this.available.set(h.userId, (this.available.get(h.userId) ?? 0) + h.amount);
  }

  private violation(msg: string): never {
    this.violations.push(msg);
    throw new AppError('LEDGER_INVARIANT_BROKEN', { message: `fake ledger: ${msg}`, retryable: false });
  }

  private listen(): void {
    this.ctx.bus.consume(
      'credits-ledger',
      {
        'ledger.reserve': async ({ tx, payload }) => {
          this.received.push({ name: 'reserve', holdId: payload.holdId });
          const existing = this.holds.get(payload.holdId);
          if (existing) return { status: 'placed' };
          const available = this.available.get(payload.userId) ?? 0;
          if (available < payload.amount) {
            const shortfall = payload.amount - available;
            await this.ctx.bus.send(tx, 'ledger.hold-rejected', { holdId: payload.holdId, userId: payload.userId, amount: payload.amount, shortfall });
            return { status: 'rejected', code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall };
          }
          this.available.set(payload.userId, available - payload.amount);
          this.holds.set(payload.holdId, { userId: payload.userId, amount: payload.amount, state: 'held', captures: 0 });
          await this.ctx.bus.send(tx, 'ledger.hold-placed', { holdId: payload.holdId, userId: payload.userId, amount: payload.amount });
          return { status: 'placed' };
        },
        'ledger.capture': async ({ tx, payload }) => {
          this.received.push({ name: 'capture', holdId: payload.holdId });
          const h = this.holds.get(payload.holdId);
          if (!h) this.violation(`capture of unknown hold ${payload.holdId}`);
          if (h.state === 'held' && this.expiresBeforeCapture.has(payload.holdId)) {
            // Like the ledger when a capture comes in after the hold's expiry: the credits go back.
            h.state = 'expired';
            this.available.set(h.userId, (this.available.get(h.userId) ?? 0) + h.amount);
            await this.ctx.bus.send(tx, 'ledger.hold-expired', { holdId: payload.holdId, userId: h.userId, amount: h.amount });
            return { status: 'expired', returned: h.amount };
          }
          h.captures++;
          if (h.state === 'captured') this.violation(`double capture of hold ${payload.holdId}`);
          if (h.state !== 'held') this.violation(`capture of a ${h.state} hold ${payload.holdId}`);
          const take = payload.amount ?? h.amount;
          if (take > h.amount) this.violation(`capture of ${take} from a hold of ${h.amount}`);
          h.state = 'captured';
          h.captured = take;
          this.available.set(h.userId, (this.available.get(h.userId) ?? 0) + h.amount - take);
          return { status: 'captured', captured: take, returned: h.amount - take };
        },
        'ledger.release': async ({ payload }) => {
          this.received.push({ name: 'release', holdId: payload.holdId });
          const h = this.holds.get(payload.holdId);
          if (!h) return { status: 'unknown' };
          if (h.state === 'captured') this.violation(`release of captured hold ${payload.holdId}`);
          if (h.state !== 'held') return { status: h.state };
          h.state = 'released';
          this.available.set(h.userId, (this.available.get(h.userId) ?? 0) + h.amount);
          return { status: 'released' };
        },
      },
      { concurrency: 1 },
    );
  }

  count(name: string, holdId?: string): number {
    return this.received.filter((r) => r.name === name && (!holdId || r.holdId === holdId)).length;
  }

  async close(): Promise<void> {
    // The database is dropped with the rest of the run's by the global teardown.
    await this.ctx.close();
  }
}
