import type { TSchema } from '@sinclair/typebox';
import type { QueueName } from '../queues.js';

/** A command goes to exactly one owner's inbox. */
export interface CommandDef<S extends TSchema = TSchema> {
  kind: 'command';
  to: QueueName;
  schema: S;
  /** Never given up after a few failures: retried (capped backoff) for weeks. */
  persistent?: boolean;
}
/** An event is fanned out by the relay to the inbox of every subscriber listed here. */
export interface EventDef<S extends TSchema = TSchema> {
  kind: 'event';
  subscribers: readonly QueueName[];
  schema: S;
  /** Never given up after a few failures: retried (capped backoff) for weeks. */
  persistent?: boolean;
}
export type MessageDef = CommandDef | EventDef;

export const command = <S extends TSchema>(to: QueueName, schema: S, opts: { persistent?: boolean } = {}): CommandDef<S> => ({ kind: 'command', to, schema, ...opts });
export const event = <S extends TSchema>(subscribers: readonly QueueName[], schema: S, opts: { persistent?: boolean } = {}): EventDef<S> => ({
  kind: 'event',
  subscribers,
  schema,
  ...opts,
});
