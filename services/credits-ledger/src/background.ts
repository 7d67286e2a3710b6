import type { Kysely } from '@imlab/db';
import type { Logger } from '@imlab/logger';
import type { DB } from './db.js';
import { expireDue, type LedgerDeps } from './ledger/ledger.service.js';
import { Gauge, type Registry } from 'prom-client';
import { sealAll, verify } from './audit/audit.service.js';
import { eraseAnonymizedAccounts } from './privacy/privacy.service.js';
import { recognise } from './revenue/revenue.service.js';
import { rollUpClosedDays } from './finance/totals.js';
import { foldAccountTotals, verifyAccountTotals } from './finance/account-totals.js';

/** A periodic task that never overlaps itself and finishes its current run on close. */
function every(ms: number, log: Logger, name: string, run: () => Promise<unknown>): { close(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> | undefined;
  let closed = false;
  const tick = () => {
    current = run()
      .catch((err) => log.error({ err, task: name }, 'background task failed'))
      .finally(() => {
        current = undefined;
        if (!closed) timer = setTimeout(tick, ms);
      });
  };
  timer = setTimeout(tick, ms);
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await current;
    },
  };
}

/** Releases holds expired more than `graceSeconds` ago until none is due. */
export async function sweepExpiredHolds(db: Kysely<DB>, deps: LedgerDeps, graceSeconds = 0): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.transaction().execute((tx) => expireDue(tx, deps, 100, graceSeconds));
    total += n;
    if (n === 0) return total;
  }
}

/**
 * Verifies the sealed checkpoints and says so on /metrics: `imlab_ledger_verification_ok` 1 when the
 * last run found every checkpoint intact, 0 when one does not verify (tampering, or checkpoints
 * sealed with another LEDGER_SEAL_SECRET); the timestamp of the last completed run says the check
 * still runs at all. The same run compares the account totals the trial balance reads with a scan
 * of the accounts and with the daily totals (`imlab_ledger_account_totals_ok`).
 */
export function ledgerVerifier(db: Kysely<DB>, secret: string, registry: Registry, log: Logger): () => Promise<void> {
  const ok = new Gauge({ name: 'imlab_ledger_verification_ok', help: '1 when the last verification of the sealed checkpoints found no mismatch, 0 when it found one', registers: [registry] });
  const lastRun = new Gauge({ name: 'imlab_ledger_verification_last_run_timestamp_seconds', help: 'When the last verification of the sealed checkpoints completed', registers: [registry] });
  const totalsOk = new Gauge({
    name: 'imlab_ledger_account_totals_ok',
    help: '1 when the last verification found the account totals equal to a scan of the accounts and to the daily totals, 0 when not (rows written with triggers off)',
    registers: [registry],
  });
  return async () => {
    const report = await verify(db, secret);
    const totals = await verifyAccountTotals(db);
    ok.set(report.ok ? 1 : 0);
    totalsOk.set(totals.length === 0 ? 1 : 0);
    lastRun.set(Date.now() / 1000);
    if (!report.ok) log.error({ mismatch: report.firstMismatch }, 'ledger checkpoints do not verify');
    if (totals.length > 0) log.error({ mismatches: totals }, 'ledger account totals differ from the accounts');
  };
}

/** The outbox poll, the hold sweeper, the checkpoint sealer and verifier, the daily and account totals; none takes a lock the write path waits on for long. */
export function startBackground(opts: {
  db: Kysely<DB>;
  deps: LedgerDeps;
  logger: Logger;
  sweepMs: number;
  /** HOLD_EXPIRY_GRACE. */
  holdGraceSeconds: number;
  sealMs: number;
  sealSecret: string;
  outboxPollMs: number;
  verifyMs: number;
  registry: Registry;
}) {
  const log = opts.logger.child({ component: 'background' });
  const tasks = [
    // kick() coalesces with a running flush; an idle poll is one indexed query on unsent rows.
    every(opts.outboxPollMs, log, 'outbox-poll', async () => opts.deps.bus.kick()),
    every(opts.sweepMs, log, 'hold-sweeper', async () => {
      const n = await sweepExpiredHolds(opts.db, opts.deps, opts.holdGraceSeconds);
      if (n > 0) log.info({ released: n }, 'expired holds released');
    }),
    every(opts.sealMs, log, 'sealer', () => sealAll(opts.db, opts.sealSecret)),
    // The revenue subledger follows the transfers (finance's reports also catch up before answering).
    every(opts.sealMs, log, 'revenue', () => recognise(opts.db)),
    // Daily totals for the trial balance and the system accounts' balances (finance/totals.ts).
    every(opts.sealMs, log, 'daily-totals', async () => {
      const n = await rollUpClosedDays(opts.db);
      if (n > 0) log.info({ days: n }, 'daily totals rolled up');
    }),
    // The account totals' rows per session, folded so the trial balance reads a few rows per type.
    every(opts.sealMs, log, 'account-totals', () => foldAccountTotals(opts.db)),
    every(opts.verifyMs, log, 'verifier', ledgerVerifier(opts.db, opts.sealSecret, opts.registry, log)),
    // Accounts re-keyed by purges from before erasure existed: erased a few people per run until none is left.
    every(opts.sealMs, log, 'legacy-erasure', async () => {
      const n = await eraseAnonymizedAccounts(opts.db);
      if (n > 0) log.info({ erased: n }, 'anonymised accounts of earlier purges erased');
    }),
  ];
  return {
    async close() {
      await Promise.all(tasks.map((t) => t.close()));
    },
  };
}
