import { Queue } from 'bullmq';
import { QUEUES, type QueueName } from '@imlab/contracts';
import { DEFAULT_JOB_OPTIONS } from './bus.js';
import { queuePrefix, type Redis } from './redis.js';

/**
 * One BullMQ `Queue` per queue of the system (every name in contracts' QUEUES), under the same
 * hash-tagged prefix the services use, for an operator's view (the gateway's queue board). Opening
 * a Queue writes nothing; the caller owns `connection` and closes the queues.
 */
export function openAllQueues(connection: Redis, prefix: string): Map<QueueName, Queue> {
  const p = queuePrefix(prefix);
  return new Map(QUEUES.map((name) => [name, new Queue(name, { connection, prefix: p, defaultJobOptions: DEFAULT_JOB_OPTIONS })]));
}
