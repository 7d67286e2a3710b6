import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  status: number;
  /** When the request arrived (ms since the epoch). */
  at: number;
}

export interface ScriptedResponse {
  status: number;
  body?: unknown;
  /** Extra response headers, e.g. `retry-after` on a 429. */
  headers?: Record<string, string>;
  /** Never answer (the caller times out or dies waiting). */
  hang?: boolean;
  /** Accept the email (it is delivered) but never answer: the sender cannot know it was sent. */
  acceptThenHang?: boolean;
}

/**
 * A local stand-in for the Resend API that checks each request the way the real one is used:
 * POST /emails, `Authorization: Bearer <key>`, an `Idempotency-Key`, a JSON body with
 * from/to/subject/html/text. It dedupes by idempotency key like Resend does (same key, same
 * body → the same email id, no second email), and can be scripted to answer errors.
 */
export class FakeResend {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  /** Emails actually accepted, by idempotency key (what a recipient would receive). */
  readonly delivered = new Map<string, { id: string; bodyHash: string; body: Record<string, unknown> }>();
  private readonly script: ScriptedResponse[] = [];
  private readonly hanging: ServerResponse[] = [];
  private server: Server | undefined;
  url = '';

  readonly apiKey;
  constructor(apiKey = `re_test_${randomUUID().slice(0, 8)}`) {
    this.apiKey = apiKey;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /** The next requests get these answers, in order, before normal handling resumes. */
  respond(...responses: ScriptedResponse[]): void {
    this.script.push(...responses);
  }

  emailsTo(address: string): Record<string, unknown>[] {
    return [...this.delivered.values()].map((d) => d.body).filter((b) => (b.to as string[]).includes(address));
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const record: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, status: 0, at: Date.now() };
    this.requests.push(record);
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    const error = (status: number, name: string, message: string) => answer(status, { statusCode: status, name, message });

    const problems = this.check(req, body);
    if (problems.length) {
      this.violations.push(...problems);
      return error(422, 'validation_error', problems.join('; '));
    }
    const scripted = this.script.shift();
    if (scripted?.hang) {
      this.hanging.push(res);
      return;
    }
    if (scripted && !scripted.acceptThenHang) return answer(scripted.status, scripted.body ?? {}, scripted.headers);

    const key = req.headers['idempotency-key'] as string;
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    const seen = this.delivered.get(key);
    if (seen) {
      if (seen.bodyHash !== bodyHash) return error(409, 'invalid_idempotent_request', 'Same idempotency key used with a different request payload.');
      return answer(200, { id: seen.id });
    }
    const id = randomUUID();
    this.delivered.set(key, { id, bodyHash, body: body as Record<string, unknown> });
    if (scripted?.acceptThenHang) {
      this.hanging.push(res);
      return;
    }
    return answer(200, { id });
  }

  private check(req: IncomingMessage, body: unknown): string[] {
    const p: string[] = [];
    if (req.method !== 'POST') p.push(`method ${req.method}`);
    if (req.url !== '/emails') p.push(`path ${req.url}`);
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) p.push('bad Authorization header');
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length < 1 || key.length > 256) p.push('missing Idempotency-Key');
    if (!String(req.headers['content-type']).startsWith('application/json')) p.push('content-type is not JSON');
    const b = body as Record<string, unknown> | null;
    if (!b || typeof b !== 'object') return [...p, 'body is not a JSON object'];
    if (typeof b.from !== 'string' || !b.from.includes('@')) p.push('from');
    const to = Array.isArray(b.to) ? b.to : [b.to];
    if (to.length < 1 || to.some((t) => typeof t !== 'string' || !t.includes('@'))) p.push('to');
    for (const f of ['subject', 'html', 'text']) if (typeof b[f] !== 'string' || !(b[f] as string).length) p.push(f);
    return p;
  }
}
