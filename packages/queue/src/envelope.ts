import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { MESSAGES, isMessageName, type MessageName, type Payload } from '@imlab/contracts';
import type { TSchema } from '@sinclair/typebox';

export const EnvelopeSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  payload: Type.Unknown(),
  occurredAt: Type.String(),
  requestId: Type.Optional(Type.String()),
  /** The W3C traceparent of the span that sent it (the consumer continues that trace). */
  traceparent: Type.Optional(Type.String({ maxLength: 128 })),
});

export interface Envelope<N extends MessageName = MessageName> {
  id: string;
  name: N;
  payload: Payload<N>;
  occurredAt: string;
  requestId?: string;
  traceparent?: string;
}

/**
 * Where a message came from, as the outbox keeps it in its `request_id` column (the bus's own
 * column, read by nothing else): the request id, then after a space the traceparent of the span
 * that sent it. One column, so no migration of every service's outbox was needed.
 */
export function packOrigin(requestId: string | undefined, traceparent: string | undefined): string | null {
  if (!traceparent) return requestId ?? null;
  return `${requestId ?? ''} ${traceparent}`;
}

export function unpackOrigin(column: string | null): Pick<Envelope, 'requestId' | 'traceparent'> {
  if (!column) return {};
  const space = column.indexOf(' ');
  const requestId = space === -1 ? column : column.slice(0, space);
  const traceparent = space === -1 ? '' : column.slice(space + 1);
  return { ...(requestId ? { requestId } : {}), ...(traceparent ? { traceparent } : {}) };
}

const envelopeCheck = TypeCompiler.Compile(EnvelopeSchema);
const checks = new Map<string, TypeCheck<TSchema>>();

function checkerFor(name: MessageName): TypeCheck<TSchema> {
  let c = checks.get(name);
  if (!c) {
    c = TypeCompiler.Compile(MESSAGES[name].schema as TSchema);
    checks.set(name, c);
  }
  return c;
}

/** Why `payload` does not match the schema of `name`, or undefined when it does. */
export function payloadProblem(name: string, payload: unknown): string | undefined {
  if (!isMessageName(name)) return `unknown message name "${name}"`;
  const c = checkerFor(name);
  if (c.Check(payload)) return undefined;
  const first = [...c.Errors(payload)].slice(0, 3).map((e) => `${e.path || '/'} ${e.message}`);
  return `invalid ${name} payload: ${first.join('; ')}`;
}

/** Why a job's data is not a valid envelope, or undefined when it is. */
export function envelopeProblem(data: unknown): string | undefined {
  if (!envelopeCheck.Check(data)) return 'malformed envelope';
  const env = data as Static<typeof EnvelopeSchema>;
  return payloadProblem(env.name, env.payload);
}
