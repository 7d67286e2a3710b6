import { createServer, type Server, type ServerResponse } from 'node:http';
import sharp from 'sharp';

/** Mostly pure red: the fake's stand-in for a graphic image. */
export async function isRed(image: Buffer): Promise<boolean> {
  const { channels } = await sharp(image).stats();
  return channels[0]!.mean > 200 && channels[1]!.mean < 40 && channels[2]!.mean < 40;
}

/** One request as the fake received it. */
export interface ModerationCall {
  authorization: string | undefined;
  model: unknown;
  input: unknown;
}

/**
 * A local stand-in for an OpenAI-compatible moderation endpoint: `POST /v1/moderations` with a
 * bearer key and `{ model, input }` (a string, an array of strings, or an array of
 * `{type:'text',text}` / `{type:'image_url',image_url:{url}}` items), answering
 * `{ id, model, results: [{ flagged, categories, category_scores }] }` as the real one does (one
 * result per string; one for a multimodal array). It flags text matching `flagText` and images
 * `flagImage` says yes to (by default: mostly red ones); `mode` makes it fail: `down` (503 with an error body),
 * `slow` (answers after `slowMs`), `garbage` (200 that is not JSON).
 */
export class FakeModeration {
  calls: ModerationCall[] = [];
  mode: 'ok' | 'down' | 'slow' | 'garbage' = 'ok';
  slowMs = 3000;
  flagText = /FLAGME|murder scene/i;
  flagImage: (image: Buffer) => Promise<boolean> = isRed;

  url = '';
  private readonly server: Server;

  readonly apiKey: string;
  private constructor(apiKey: string) {
    this.apiKey = apiKey;
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req.method ?? '', req.url ?? '', req.headers.authorization, Buffer.concat(chunks), res));
    });
  }

  static async start(apiKey = 'mod-test-key'): Promise<FakeModeration> {
    const fake = new FakeModeration(apiKey);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as { port: number }).port}`;
    return fake;
  }

  private async handle(method: string, path: string, authorization: string | undefined, raw: Buffer, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (method !== 'POST' || path !== '/v1/moderations') return send(404, { error: { message: 'Not found', type: 'invalid_request_error' } });
    if (authorization !== `Bearer ${this.apiKey}`) return send(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
    let body: { model?: unknown; input?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8')) as typeof body;
    } catch {
      return send(400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' } });
    }
    this.calls.push({ authorization, model: body.model, input: body.input });
    if (this.mode === 'down') return send(503, { error: { message: 'The server is overloaded or not ready yet.', type: 'server_error' } });
    if (this.mode === 'slow') await new Promise((r) => setTimeout(r, this.slowMs));
    if (this.mode === 'garbage') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
    const input = body.input;
    let subjects: { text?: string; images?: Buffer[] }[];
    if (typeof input === 'string') subjects = [{ text: input }];
    else if (Array.isArray(input) && input.every((i) => typeof i === 'string')) subjects = input.map((text: string) => ({ text }));
    else if (Array.isArray(input)) {
      const parts = input as { type?: string; text?: string; image_url?: { url?: string } }[];
      const bad = parts.find((p) => !(p.type === 'text' && typeof p.text === 'string') && !(p.type === 'image_url' && typeof p.image_url?.url === 'string'));
      if (bad) return send(400, { error: { message: "Invalid value for 'input'.", type: 'invalid_request_error', param: 'input' } });
      // One result for the whole multimodal input.
      const text = parts.filter((p) => p.type === 'text').map((p) => p.text).join('\n');
      const images = parts.filter((p) => p.type === 'image_url').map((p) => Buffer.from(p.image_url!.url!.replace(/^data:[^;]+;base64,/, ''), 'base64'));
      subjects = [{ text, images }];
    } else return send(400, { error: { message: "'input' is a required property", type: 'invalid_request_error', param: 'input' } });
    const results = [];
    for (const s of subjects) {
      const textFlag = s.text !== undefined && this.flagText.test(s.text);
      let imageFlag = false;
      for (const image of s.images ?? []) imageFlag ||= await this.flagImage(image).catch(() => false);
      const categories = { sexual: false, 'sexual/minors': false, harassment: false, 'harassment/threatening': false, hate: false, 'hate/threatening': false, illicit: false, 'illicit/violent': false, 'self-harm': false, 'self-harm/intent': false, 'self-harm/instructions': false, violence: textFlag, 'violence/graphic': imageFlag };
      const category_scores = Object.fromEntries(Object.entries(categories).map(([k, v]) => [k, v ? 0.93 : 0.0004]));
      results.push({ flagged: textFlag || imageFlag, categories, category_scores });
    }
    send(200, { id: `modr-${this.calls.length}`, model: String(body.model), results });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
