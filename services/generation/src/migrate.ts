import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { runMigrations } from '@imlab/queue';
import { loadGenerationConfig } from './config.js';

const config = loadGenerationConfig();
await runMigrations({
  databaseUrl: config.DATABASE_URL,
  databaseName: config.DATABASE_NAME,
  migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
  logger: createLogger({ service: 'generation', level: config.LOG_LEVEL }),
});
