import type { ServiceContext } from '@imlab/service';
import { Gauge, type Registry } from 'prom-client';
import type { DB } from '../db.js';
import type { Receipts } from './receipts.js';
import { recordAudit } from '../audit/index.js';

/** Auth's inbox: the services' reports that their part of a purge is done, and their audit records. */
export function consumeAuthInbox(ctx: ServiceContext<DB>, receipts: Receipts, opts: { concurrency?: number } = {}) {
  return ctx.bus.consume(
    'auth',
    {
      'user.purge-completed': async ({ tx, payload, log }) => {
        const result = await receipts.partDone(tx, payload.deletionId, payload.service);
        if (result.complete && result.emailed) log.info({ deletionId: payload.deletionId }, 'deletion complete everywhere; the last email is on its way');
        return result;
      },
      // The audit log (auth keeps it for every service): one row per record id.
      'audit.record': async ({ tx, payload }) => recordAudit(tx, payload),
    },
    { concurrency: opts.concurrency ?? 2 },
  );
}

/**
 * `imlab_auth_deletions_incomplete`: purges some service has not reported done, all of them and those
 * `overdueAfterSeconds` past their due date (the removal promise is at risk: alert on it).
 */
export function registerDeletionGauges(registry: Registry, ctx: ServiceContext<DB>, receipts: Receipts, overdueAfterSeconds: number): void {
  new Gauge({
    name: 'imlab_auth_deletions_incomplete',
    help: 'Account purges not yet reported done by every service (age=any), and those past their due date by more than the alert window (age=overdue)',
    labelNames: ['age'],
    registers: [registry],
    async collect() {
      try {
        this.set({ age: 'any' }, await receipts.countIncomplete(ctx.db));
        this.set({ age: 'overdue' }, await receipts.countIncomplete(ctx.db, overdueAfterSeconds));
      } catch {
        // the database is down: the last values stay; readiness says so
      }
    },
  });
}
