// Every answer the end-to-end suite gets through the gateway, checked against the merged OpenAPI
// document (the one the running gateway serves, which the client is generated from): its status,
// content type, documented headers and, for JSON, its body. A frontend generated from the document
// must be able to trust it; any difference is collected as a mismatch and the suite fails on any.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { eventually } from '@imlab/testing';

type Json = Record<string, unknown>;

/** The parts of an OpenAPI 3.1 document the checker reads. */
export interface OpenApiDocument {
  servers?: { url: string }[];
  paths: Record<string, Record<string, unknown>>;
  components?: Json;
  [key: string]: unknown;
}

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
  headers?: Record<string, { required?: boolean; schema?: unknown; $ref?: string }>;
  $ref?: string;
}

/** What the checker needs of an answer: undici's and the standard Response both fit. */
export interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  clone(): { text(): Promise<string> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
/** The `$id` the document is registered under, so its `#/components/...` references resolve. */
const DOC_ID = 'https://imagemakerlab.test/contract/openapi.json';

const escapePointer = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapePointer = (part: string) => part.replace(/~1/g, '/').replace(/~0/g, '~');
const mediaTypeOf = (contentType: string | null) => contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
const isJson = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json');

interface Operation {
  template: string;
  method: string;
  pattern: RegExp;
  params: number;
  /** JSON pointer of the operation in the document. */
  pointer: string;
}

export interface ContractOptions {
  /**
   * Paths the gateway serves outside the API and its document, each with why (the ops board is a
   * web page, not an operation). Answers there are counted as not checked instead of as mismatches.
   */
  outside?: Record<string, string>;
}

export class ContractChecker {
  /** Every difference between an answer and the document, one line each. */
  readonly mismatches: string[] = [];
  /** How many answers were checked against an operation of the document. */
  checked = 0;
  /** The answers checked, counted by operation and status (`POST /v1/generations 402`). */
  readonly seen = new Map<string, number>();
  /** Answers of the paths outside the document (`outside`), by path. */
  readonly outside = new Map<string, number>();
  readonly document: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly operations: Operation[] = [];
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly basePath: string;

  private readonly options: ContractOptions;
  constructor(
    document: OpenApiDocument,
    options: ContractOptions = {},
  ) {
    this.options = options;
    this.document = document;
    this.basePath = new URL(document.servers?.[0]?.url ?? 'http://localhost').pathname.replace(/\/+$/, '');
    // strict: false, because OpenAPI adds its own keywords (example, discriminator…) to schemas.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true });
    (addFormats as unknown as (ajv: Ajv2020) => void)(this.ajv);
    // OpenAPI's formats for bytes: nothing to check in JSON, and these bodies are never parsed.
    this.ajv.addFormat('binary', true);
    this.ajv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
    this.ajv.addSchema({ ...document, $id: DOC_ID });
    for (const [template, item] of Object.entries(document.paths)) {
      const names: string[] = [];
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) => (/^\{[^}]+\}$/.test(part) ? (names.push(part), '([^/]+)') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      for (const method of Object.keys(item)) {
        if (!METHODS.includes(method)) continue;
        this.operations.push({ template, method, pattern: new RegExp(`^${source}$`), params: names.length, pointer: `/paths/${escapePointer(template)}/${method}` });
      }
    }
    // A concrete path wins over a template that also matches it (OpenAPI's own rule).
    this.operations.sort((a, b) => a.params - b.params);
  }

  /** The operation a request is answered by: the document's path template and method that match it. */
  operationOf(method: string, url: string): { template: string; pointer: string } | undefined {
    const path = this.pathOf(url);
    return this.operations.find((op) => op.method === method.toLowerCase() && op.pattern.test(path));
  }

  /**
   * Checks one answer and records what does not match the document. The body is read from a clone
   * (the caller still reads the answer), and only when it is JSON or when the document declares
   * no body: a binary file or an event stream is checked by its content type alone.
   */
  async observe(method: string, url: string, answer: Answer): Promise<string[]> {
    const mediaType = mediaTypeOf(answer.headers.get('content-type'));
    const found = this.responseFor(method, url, answer.status);
    const declaresBody = found !== undefined && 'response' in found && Object.keys(found.response.content ?? {}).length > 0;
    // An event stream is never read here: it ends only when its generation does.
    const read = found !== undefined && 'response' in found && mediaType !== 'text/event-stream' && (mediaType === undefined || isJson(mediaType) || !declaresBody);
    const text = read ? await answer.clone().text() : undefined;
    const problems = this.check({ method, url, status: answer.status, headers: answer.headers, body: text });
    this.mismatches.push(...problems);
    return problems;
  }

  /**
   * The mismatches of one answer (nothing is recorded). `body` is the answer's text; without it
   * the body is not checked (binary or streamed answers).
   */
  check(answer: { method: string; url: string; status: number; headers: { get(name: string): string | null }; body?: string | undefined }): string[] {
    const path = this.pathOf(answer.url);
    const mediaType = mediaTypeOf(answer.headers.get('content-type'));
    const found = this.responseFor(answer.method, answer.url, answer.status);
    const label = (template?: string) => `${answer.method.toUpperCase()} ${path}${template && template !== path ? ` (${template})` : ''} → ${answer.status} ${mediaType ?? '(no content type)'}`;
    if (!found) {
      this.outside.set(path, (this.outside.get(path) ?? 0) + 1);
      return [];
    }
    if ('missing' in found) return [`${label()}: ${found.missing}`];
    this.checked++;
    const { operation, response, pointer } = found;
    const seen = `${answer.method.toUpperCase()} ${operation.template} ${answer.status}`;
    this.seen.set(seen, (this.seen.get(seen) ?? 0) + 1);
    const at = label(operation.template);
    const problems: string[] = [];

    for (const [name, declared] of Object.entries(response.headers ?? {})) {
      const header = declared.$ref ? (this.resolve(declared.$ref) as { required?: boolean; schema?: unknown }) : declared;
      const value = answer.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`${at}: the required header ${name} is missing`);
        continue;
      }
      if (header.schema === undefined) continue;
      const headerPointer = declared.$ref ? `${declared.$ref.slice(1)}/schema` : `${pointer}/headers/${escapePointer(name)}/schema`;
      const validate = this.validator(headerPointer);
      const typed = /^-?\d+(\.\d+)?$/.test(value) && ['integer', 'number'].includes((header.schema as { type?: string }).type ?? '') ? Number(value) : value;
      if (!validate(typed)) problems.push(`${at}: header ${name} ${this.describe(validate.errors)}`);
    }

    const content = response.content;
    if (!content || Object.keys(content).length === 0) {
      if (answer.body || mediaType) problems.push(`${at}: answers a body${mediaType ? ` of ${mediaType}` : ''} where the document declares none`);
      return problems;
    }
    if (!mediaType) {
      problems.push(`${at}: no content type, the document declares ${Object.keys(content).join(', ')}`);
      return problems;
    }
    const declaredType = Object.keys(content).find((t) => {
      const d = t.toLowerCase();
      return d === mediaType || d === '*/*' || (d.endsWith('/*') && mediaType.startsWith(d.slice(0, -1)));
    });
    if (!declaredType) {
      problems.push(`${at}: content type ${mediaType} is not declared (the document declares ${Object.keys(content).join(', ')})`);
      return problems;
    }
    if (!isJson(mediaType) || answer.body === undefined || content[declaredType]!.schema === undefined) return problems;
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      problems.push(`${at}: the body is not JSON`);
      return problems;
    }
    const validate = this.validator(`${pointer}/content/${escapePointer(declaredType)}/schema`);
    if (!validate(body)) problems.push(`${at}: body ${this.describe(validate.errors)}`);
    return problems;
  }

  private pathOf(url: string): string {
    const path = new URL(url, 'http://localhost').pathname;
    return this.basePath && path.startsWith(this.basePath) ? path.slice(this.basePath.length) || '/' : path;
  }

  /**
   * The documented response for a status (exact, then `4XX`-style ranges, then `default`); what is
   * missing when there is none; undefined for a path outside the document on purpose.
   */
  private responseFor(method: string, url: string, status: number): { operation: Operation; response: ResponseObject; pointer: string } | { missing: string } | undefined {
    const path = this.pathOf(url);
    const candidates = this.operations.filter((op) => op.pattern.test(path));
    const operation = candidates.find((op) => op.method === method.toLowerCase());
    if (!operation) {
      if (Object.keys(this.options.outside ?? {}).some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return undefined;
      return { missing: candidates.length ? `the document has no ${method.toUpperCase()} operation for ${candidates[0]!.template}` : 'no path of the document matches' };
    }
    const responses = (this.resolve(`#${operation.pointer}`) as { responses?: Record<string, ResponseObject> }).responses ?? {};
    const key = [String(status), `${Math.floor(status / 100)}XX`, `${Math.floor(status / 100)}xx`, 'default'].find((k) => k in responses);
    if (!key) return { missing: `status ${status} is not declared (the document declares ${Object.keys(responses).join(', ')})` };
    let pointer = `${operation.pointer}/responses/${key}`;
    let response = responses[key]!;
    for (let hops = 0; response.$ref && hops < 10; hops++) {
      pointer = response.$ref.slice(1);
      response = this.resolve(response.$ref) as ResponseObject;
    }
    return { operation, response, pointer };
  }

  /** A local reference (`#/components/...`) of the document. */
  private resolve(ref: string): unknown {
    if (!ref.startsWith('#/')) throw new Error(`only local references are followed, not ${ref}`);
    let node: unknown = this.document;
    for (const part of ref.slice(2).split('/').map(unescapePointer)) node = (node as Json | undefined)?.[part];
    if (node === undefined) throw new Error(`${ref} is not in the document`);
    return node;
  }

  /** The schema at a JSON pointer of the document, compiled with the document's components. */
  private validator(pointer: string): ValidateFunction {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
      this.validators.set(pointer, validate);
    }
    return validate;
  }

  /** Ajv's errors in a line: where, what, and the value found for a wrong type, format or enum. */
  private describe(errors: ErrorObject[] | null | undefined): string {
    const shown = ['enum', 'const', 'type', 'format', 'pattern'];
    const list = (errors ?? []).slice(0, 5).map((e) => `${e.instancePath ? `${e.instancePath} ` : ''}${e.message ?? e.keyword}${shown.includes(e.keyword) ? ` (got ${JSON.stringify(e.data)})` : ''}`);
    return list.join('; ') || 'does not match its schema';
  }
}

/**
 * The document without what differs between deployments: `servers`, and the deployment's public
 * base URL (the first server's) wherever else it appears (`info.contact.url`), as `{PUBLIC_BASE_URL}`.
 */
export function apartFromDeployment(document: OpenApiDocument): Omit<OpenApiDocument, 'servers'> {
  const { servers, ...rest } = document;
  const base = servers?.[0]?.url;
  if (!base) return rest;
  const replace = (node: unknown): unknown =>
    typeof node === 'string'
      ? node.split(base).join('{PUBLIC_BASE_URL}')
      : Array.isArray(node)
        ? node.map(replace)
        : node && typeof node === 'object'
          ? Object.fromEntries(Object.entries(node).map(([k, v]) => [k, replace(v)]))
          : node;
  return replace(rest) as Omit<OpenApiDocument, 'servers'>;
}

/**
 * The checker for a running gateway: its `/openapi.json` (the document it serves, once every
 * service's part is in), fetched once.
 */
export async function loadContract(gatewayUrl: string, options: ContractOptions = {}): Promise<ContractChecker> {
  const document = await eventually(async (): Promise<OpenApiDocument | undefined> => {
    const res = await fetch(`${gatewayUrl}/openapi.json`);
    const doc = (await res.json()) as OpenApiDocument;
    return res.ok && !doc['x-imlab-unavailable-services'] ? doc : undefined;
  }, 30_000);
  return new ContractChecker(document!, options);
}
