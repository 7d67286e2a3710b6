import type { Worker, ConsumeOptions } from '@imlab/queue';
import type { ServiceContext } from '@imlab/service';
import type { Config } from './config.js';
import type { DB } from './db.js';
import { systemAccountIds } from './ledger/ledger.repository.js';
import { ledgerHandlers } from './ledger/ledger.handlers.js';
import type { LedgerDeps } from './ledger/ledger.service.js';
import { privacyHandlers } from './privacy/privacy.handlers.js';

/** What the ledger's commands need: the bus, the system account ids (fixed at migration) and the threshold. */
export async function ledgerDeps(ctx: ServiceContext<DB>, config: Pick<Config, 'LOW_BALANCE_THRESHOLD'>): Promise<LedgerDeps> {
  return { bus: ctx.bus, system: await systemAccountIds(ctx.db), lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD };
}

/** Starts consuming the credits-ledger inbox. */
export function consumeInbox(ctx: ServiceContext<DB>, deps: LedgerDeps, opts: ConsumeOptions = {}): Worker {
  return ctx.bus.consume('credits-ledger', { ...ledgerHandlers(deps), ...privacyHandlers() }, opts);
}
