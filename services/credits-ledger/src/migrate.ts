import { createLogger } from '@imlab/logger';
import { migrateFromConfig } from '@imlab/service';
import { loadLedgerConfig } from './config.js';

const config = loadLedgerConfig();
await migrateFromConfig(config, new URL('../migrations', import.meta.url), createLogger({ service: 'credits-ledger', level: config.LOG_LEVEL }));
