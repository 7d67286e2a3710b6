import { EventEmitter } from 'node:events';
import type { Redis } from '@imlab/queue';
import type { GenerationStatus } from '../db.js';

/**
 * Status changes over Redis pub/sub, for SSE. A message carries only the generation id and its
 * new status: nothing a person wrote ever goes to Redis. Subscribers re-read the row.
 */
export class StatusEvents {
  private readonly channel: string;
  private readonly emitter = new EventEmitter();
  private sub: Redis | undefined;
  private ready: Promise<unknown> | undefined;

  private readonly redis: Redis;
  constructor(
    redis: Redis,
    prefix: string,
  ) {
    this.redis = redis;
    this.channel = `${prefix}:generation-status`;
    this.emitter.setMaxListeners(0);
  }

  async publish(id: string, status: GenerationStatus): Promise<void> {
    await this.redis.publish(this.channel, `${id} ${status}`);
  }

  /** A running render's progress (0–100), from providers that report it: `id progress <percent>`. */
  async publishProgress(id: string, percent: number): Promise<void> {
    await this.redis.publish(this.channel, `${id} progress ${Math.max(0, Math.min(100, Math.round(percent)))}`);
  }

  /** Calls `fn` on each change of generation `id` (and `onProgress` on its progress); returns the unsubscribe function. */
  async listen(id: string, fn: (status: GenerationStatus) => void, onProgress?: (percent: number) => void): Promise<() => void> {
    if (!this.ready) {
      const sub = this.redis.duplicate();
      this.sub = sub;
      sub.on('message', (_channel: string, message: string) => {
        const [gid, status, percent] = message.split(' ');
        if (!gid || !status) return;
        if (status === 'progress') this.emitter.emit(`${gid}:progress`, Number(percent));
        else this.emitter.emit(gid, status as GenerationStatus);
      });
      this.ready = sub.subscribe(this.channel);
    }
    this.emitter.on(id, fn);
    if (onProgress) this.emitter.on(`${id}:progress`, onProgress);
    await this.ready;
    return () => {
      this.emitter.off(id, fn);
      if (onProgress) this.emitter.off(`${id}:progress`, onProgress);
    };
  }

  async close(): Promise<void> {
    this.sub?.disconnect();
    this.sub = undefined;
    this.ready = undefined;
  }
}
