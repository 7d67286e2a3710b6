export { moderationRoutes } from './moderation.routes.js';
export { moderationSchemas } from './moderation.schemas.js';
export { forgetReporter } from './moderation.repository.js';
export { stateOf } from './moderation.service.js';
