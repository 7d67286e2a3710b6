import type { QueueTables } from '@imlab/queue';

export interface DB extends QueueTables {}
