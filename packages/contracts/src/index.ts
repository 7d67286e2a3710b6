export { UUID_RE } from './formats.js';
export * from './queues.js';
export * from './messages/index.js';
export * from './errors.js';
export * from './error-codes.js';
export * from './locale.js';
export * from './roles.js';
export * from './internal-headers.js';
export * from './catalog.js';
