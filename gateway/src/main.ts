import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { loadGatewayConfig } from './config.js';
import { build } from './app.js';

const config = loadGatewayConfig();
const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
const { app } = await build({ config, logger, refreshOpenApi: true });
await runService({ logger, app, port: config.GATEWAY_PORT, host: config.HOST, graceMs: config.SHUTDOWN_GRACE_MS });
