export { createSuspensionService, isSuspended, auditHere, type SuspensionService } from './suspension.service.js';
export { registerSuspensionRoutes, suspensionSchemas } from './suspension.routes.js';
export { createSupportService } from './support.service.js';
export { registerSupportRoutes, supportSchemas } from './support.routes.js';
