import { createLogger } from '@imlab/logger';
import { migrateFromConfig } from '@imlab/service';
import { loadNotificationConfig } from './config.js';

const config = loadNotificationConfig();
await migrateFromConfig(config, new URL('../migrations', import.meta.url), createLogger({ service: 'notification', level: config.LOG_LEVEL }));
