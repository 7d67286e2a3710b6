/** One inbox per service, plus the render queue consumed only by generation's worker entry point. */
export const QUEUES = ['auth', 'credits-ledger', 'generation', 'billing', 'notification', 'generation-render'] as const;
export type QueueName = (typeof QUEUES)[number];
export type ServiceName = Exclude<QueueName, 'generation-render'>;
export const SERVICES: readonly ServiceName[] = ['auth', 'credits-ledger', 'generation', 'billing', 'notification'];

/**
 * Who an internal JWT may be addressed to: every service, and the gateway itself (its ops queue
 * board asks auth for the session's roles under this audience).
 */
export const INTERNAL_AUDIENCES: readonly string[] = [...SERVICES, 'gateway'];
