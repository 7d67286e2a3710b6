import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadLedgerConfig } from './config.js';
import { build } from './app.js';
import { consumeInbox, ledgerDeps } from './inbox.js';
import { startBackground } from './background.js';
import type { DB } from './db.js';

const config = loadLedgerConfig();
const logger = createLogger({ service: 'credits-ledger', level: config.LOG_LEVEL });
const ctx = await contextFromConfig<DB>('credits-ledger', config, logger, new URL('../migrations', import.meta.url));
const app = await build({ config, logger, ctx });
const deps = await ledgerDeps(ctx, config);
consumeInbox(ctx, deps, { concurrency: config.INBOX_CONCURRENCY, batch: config.INBOX_BATCH > 1 ? { max: config.INBOX_BATCH, lanes: config.INBOX_LANES } : false });
const background = startBackground({
  db: ctx.db,
  deps,
  logger,
  sweepMs: config.HOLD_SWEEP_INTERVAL * 1000,
  holdGraceSeconds: config.HOLD_EXPIRY_GRACE,
  sealMs: config.SEAL_INTERVAL * 1000,
  sealSecret: config.LEDGER_SEAL_SECRET,
  outboxPollMs: config.OUTBOX_POLL_MS,
  verifyMs: config.VERIFY_INTERVAL * 1000,
  registry: app.metricsRegistry,
});
await ctx.bus.startRelay();
// Close order: HTTP first, then the background tasks (they finish their run), then bus and pool.
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [background, ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.METRICS_PORT, registry: app.metricsRegistry } });
