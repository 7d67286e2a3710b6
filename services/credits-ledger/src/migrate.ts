import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { runMigrations } from '@imlab/queue';
import { loadLedgerConfig } from './config.js';

const config = loadLedgerConfig();
await runMigrations({
  databaseUrl: config.DATABASE_URL,
  databaseName: config.DATABASE_NAME,
  migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
  logger: createLogger({ service: 'credits-ledger', level: config.LOG_LEVEL }),
});
