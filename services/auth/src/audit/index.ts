export { auditSchemas, registerAuditRoutes } from './audit.routes.js';
export { record as recordAudit, exportFor as auditExportFor, forgetPerson as forgetInAudit } from './audit.service.js';
