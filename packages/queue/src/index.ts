export * from './redis.js';
export * from './migrations.js';
export * from './envelope.js';
export * from './bus.js';
export * from './retry-after.js';
export { UnrecoverableError, type Job, type Worker } from 'bullmq';
export * from './sealed.js';
export * from './board.js';
