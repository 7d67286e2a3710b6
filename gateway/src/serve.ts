import { createLogger } from '@imlab/logger';
import { listenMetrics, runService } from '@imlab/http';
import { loadGatewayConfig } from './config.js';
import { build } from './app.js';

const config = loadGatewayConfig();
const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
const { app, metricsServer } = await build({ config, logger, refreshOpenApi: true });
// /metrics only here, never on the public port.
logger.info({ port: await listenMetrics(metricsServer, config.METRICS_PORT, config.HOST) }, 'metrics listener up');
await runService({ logger, app, port: config.GATEWAY_PORT, host: config.HOST, graceMs: config.SHUTDOWN_GRACE_MS });
