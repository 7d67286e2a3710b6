export { createSuspensionService, isSuspended, auditHere, type SuspensionService } from './suspension.service.js';
export { registerSuspensionRoutes, suspensionSchemas } from './suspension.routes.js';
