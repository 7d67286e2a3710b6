/**
 * A credits-ledger inbox consumer that stops inside a command: its transaction has done every
 * write but not committed when it prints IN_COMMAND and waits to be killed with SIGKILL.
 */
import { createLogger } from '@imlab/logger';
import { type ConsumeOptions } from '@imlab/queue';
import { contextFromConfig } from '@imlab/service';
import { loadLedgerConfig } from '../../src/config.js';
import type { DB } from '../../src/db.js';
import { consumeInbox, ledgerDeps } from '../../src/inbox.js';

const config = loadLedgerConfig();
const logger = createLogger({ service: 'credits-ledger', level: 'silent' });
const ctx = await contextFromConfig<DB>('credits-ledger', config, logger, new URL('../../migrations', import.meta.url), { migrate: false, poolSize: 2 });
const deps = await ledgerDeps(ctx, config);
// Short lock and stalled-check interval: the parent takes the job over soon after the kill.
const opts: ConsumeOptions = {
  concurrency: 1,
  lockDuration: 1000,
  stalledInterval: 500,
  beforeCommit: async () => {
    process.stdout.write('IN_COMMAND\n');
    await new Promise(() => {});
  },
};
consumeInbox(ctx, deps, opts);
process.stdout.write('READY\n');
