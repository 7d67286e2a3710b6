import { STATUS_CODES } from 'node:http';
import { Problem, SESSION_COOKIE_PRODUCTION, ref, type ApiTag, type CodeWithStatus, type Role } from '@imlab/contracts';

/**
 * How a route describes itself in the OpenAPI document. Every public route's schema spreads
 * `operation(...)` (operationId, tag, summary, description, security) and declares its error
 * answers with `errors(...)`:
 *
 *   schema: {
 *     ...operation('getGeneration', { tag: 'generations', access: 'session', summary: 'One generation', description: '…' }),
 *     params: IdParams,
 *     response: { 200: ref(Generation, { description: 'The generation' }), ...errors({ 401: ['UNAUTHENTICATED'], 404: ['GENERATION_NOT_FOUND'] }) },
 *   }
 */

/** The session cookie, as the gateway's clients present it (the gateway turns it into an internal token). */
export const SESSION_SCHEME = 'session';
export const SECURITY_SCHEMES = {
  [SESSION_SCHEME]: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE_PRODUCTION,
    description:
      'The session cookie set by `POST /v1/auth/login` and Google sign-in: `__Host-imlab_sid` (HttpOnly, Secure, SameSite=Lax, Path=/, no Domain); a development server over plain http names it `imlab_sid`. Browsers send it by themselves.',
  },
} as const;

/**
 * Who may call an operation: anyone (`public`), a signed-in person (`session`), anyone, with a
 * session changing the answer (`optional-session`), a session whose account has one of `roles`, or
 * a provider whose signature covers the raw body (`signed`, no session).
 */
export type Access = 'public' | 'session' | 'optional-session' | 'signed' | { roles: readonly Role[] };

export interface OperationDoc {
  tag: ApiTag;
  access: Access;
  summary: string;
  description: string;
  /** The route takes a body but does not need one (swagger marks every declared body required). */
  optionalBody?: boolean;
}

/** Marks an operation whose body is optional until the service's document is built (see buildApp). */
export const OPTIONAL_BODY = 'x-imlab-optional-body';

const list = (items: readonly string[]) => items.map((i) => `\`${i}\``).join(' or ');

/** The operation's documentation fields; the access rule becomes `security` and a sentence of the description. */
export function operation(operationId: string, doc: OperationDoc) {
  if (!/^[a-z][A-Za-z0-9]+$/.test(operationId)) throw new Error(`operationId ${operationId} is not camelCase`);
  const { access } = doc;
  const session = [{ [SESSION_SCHEME]: [] as string[] }];
  const security = access === 'public' || access === 'signed' ? [] : access === 'optional-session' ? [{}, ...session] : session;
  const rule =
    access === 'public'
      ? 'Public: no session needed.'
      : access === 'signed'
        ? 'No session: the provider signs the raw body.'
        : access === 'optional-session'
          ? 'The session is optional (what it changes is said above).'
          : access === 'session'
            ? 'Needs a session.'
            : `Needs a session whose account has the ${list(access.roles)} role.`;
  return {
    operationId,
    tags: [doc.tag],
    summary: doc.summary,
    description: `${doc.description}\n\n${rule}`,
    security,
    ...(doc.optionalBody ? { [OPTIONAL_BODY]: true } : {}),
  };
}

/** Statuses an operation may answer with a problem. */
export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

/**
 * The problem codes an operation answers, per status: registered codes of that status only (a code
 * under another status, or an unknown one, does not compile).
 */
export type ErrorCodes = { readonly [S in ErrorStatus]?: readonly [CodeWithStatus<S>, ...CodeWithStatus<S>[]] };

/** Codes every route with a JSON body may answer, besides its own (the shared body parser's). */
export const JSON_BODY_ERRORS = {
  400: ['VALIDATION_FAILED'],
  413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
} as const satisfies ErrorCodes;

/** On each declared error response: the codes it lists (read back by the contract check in app.ts). */
export const PROBLEM_CODES = 'x-problem-codes';

/**
 * One problem+json response per status: the shared Problem schema with `code` narrowed to the
 * codes this operation answers with that status (an `enum`), which the description names too.
 */
export function errors(...declared: ErrorCodes[]) {
  const byStatus = new Map<number, Set<string>>();
  for (const codes of declared) {
    for (const [status, names] of Object.entries(codes) as [string, readonly string[]][]) {
      const set = byStatus.get(Number(status)) ?? new Set<string>();
      for (const name of names) set.add(name);
      byStatus.set(Number(status), set);
    }
  }
  const responses: Record<number, { description: string; [PROBLEM_CODES]: string[]; content: { 'application/problem+json': { schema: object } } }> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const list = [...codes].sort();
    responses[status] = {
      description: `${STATUS_CODES[status] ?? 'Error'}: ${list.map((c) => `\`${c}\``).join(', ')}.`,
      [PROBLEM_CODES]: list,
      content: { 'application/problem+json': { schema: { allOf: [ref(Problem), { type: 'object', properties: { code: { type: 'string', enum: list } } }] } } },
    };
  }
  return responses;
}

/** A body or answer that is raw bytes of one of `mediaTypes`, not JSON. */
export function binaryContent(mediaTypes: readonly string[], description?: string) {
  const schema = { type: 'string', format: 'binary', ...(description ? { description } : {}) } as const;
  return Object.fromEntries(mediaTypes.map((type) => [type, { schema }]));
}
