import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { runMigrations } from '@imlab/queue';
import { loadAuthConfig } from './config.js';

const config = loadAuthConfig();
await runMigrations({
  databaseUrl: config.DATABASE_URL,
  databaseName: config.DATABASE_NAME,
  migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
  logger: createLogger({ service: 'auth', level: config.LOG_LEVEL }),
});
