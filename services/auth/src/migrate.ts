import { createLogger } from '@imlab/logger';
import { migrateFromConfig } from '@imlab/service';
import { loadAuthConfig } from './config.js';

const config = loadAuthConfig();
await migrateFromConfig(config, new URL('../migrations', import.meta.url), createLogger({ service: 'auth', level: config.LOG_LEVEL }));
