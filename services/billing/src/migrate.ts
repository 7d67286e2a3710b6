import { createLogger } from '@imlab/logger';
import { migrateFromConfig } from '@imlab/service';
import { loadBillingConfig } from './config.js';

const config = loadBillingConfig();
await migrateFromConfig(config, new URL('../migrations', import.meta.url), createLogger({ service: 'billing', level: config.LOG_LEVEL }));
