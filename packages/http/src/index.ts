export * from './app-error.js';
export * from './problem.js';
export * from './app.js';
export * from './health.js';
export * from './internal-auth.js';
export * from './run.js';
export * from './json-body.js';
export * from './drain.js';
