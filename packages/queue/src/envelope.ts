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
});

export interface Envelope<N extends MessageName = MessageName> {
  id: string;
  name: N;
  payload: Payload<N>;
  occurredAt: string;
  requestId?: string;
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
