import { createLogger } from '@imlab/logger';
import { migrateFromConfig } from '@imlab/service';
import { loadGenerationConfig } from './config.js';

const config = loadGenerationConfig();
await migrateFromConfig(config, new URL('../migrations', import.meta.url), createLogger({ service: 'generation', level: config.LOG_LEVEL }));
