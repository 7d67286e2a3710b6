import { createServer, type IncomingMessage, type Server } from 'node:http';
import sharp from 'sharp';

export interface SeenRequest {
  path: string;
  /** When the request arrived (ms since the epoch). */
  at: number;
  contentType: string;
  json?: Record<string, unknown>;
  fields?: Record<string, string>;
  files?: { field: string; type: string; name: string; size: number }[];
}

const err = (message: string, type: string, code: string | null, param: string | null = null) => JSON.stringify({ error: { message, type, param, code } });

/**
 * A local stand-in for the OpenAI Images API that speaks its wire format: bearer auth, JSON
 * /images/generations, multipart /images/edits (image or image[]), `{created, data:[{b64_json}]}`
 * answers and `{error:{message,type,param,code}}` errors, 429 with retry-after. The prompt steers
 * failures: "moderation" → 400 moderation_blocked, "always-500" → 500, "rate-limit-once" → one 429
 * (retry-after: 1), "unavailable-once" → one 503 (retry-after-ms: 1800), "url-internal" → images
 * by URL at a cloud-metadata address, "url-own" → images by URL on this server (GET /files/<n>).
 */
export async function startFakeOpenAi(apiKey = 'sk-test-fake-key'): Promise<{ baseUrl: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const limited = new Set<string>();
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const send = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(text);
    };
    // Image files answered by URL are public, like a CDN's.
    if (req.method === 'GET' && (req.url ?? '').startsWith('/files/')) {
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
      return res.end(png);
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(401, err('Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key'));
    }
    const path = req.url ?? '';
    const contentType = req.headers['content-type'] ?? '';
    const entry: SeenRequest = { path, contentType, at: Date.now() };
    let prompt: string;
    let n: number;
    let size: string;
    if (path === '/v1/images/generations') {
      const json = JSON.parse(body.toString()) as Record<string, unknown>;
      entry.json = json;
      prompt = String(json.prompt ?? '');
      n = Number(json.n ?? 1);
      size = String(json.size ?? '1024x1024');
    } else if (path === '/v1/images/edits') {
      const form = await new Request('http://x/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
      entry.fields = {};
      entry.files = [];
      for (const [k, v] of form.entries()) {
        if (typeof v === 'string') entry.fields[k] = v;
        else entry.files.push({ field: k, type: v.type, name: v.name, size: v.size });
      }
      prompt = entry.fields.prompt ?? '';
      n = Number(entry.fields.n ?? 1);
      size = entry.fields.size ?? '1024x1024';
      if (entry.files.length === 0) return send(400, err("Missing required parameter: 'image'.", 'invalid_request_error', 'missing_required_parameter', 'image'));
    } else {
      return send(404, err(`Invalid URL (POST ${path})`, 'invalid_request_error', null));
    }
    seen.push(entry);
    if (prompt.includes('moderation')) {
      return send(400, err('Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.', 'image_generation_user_error', 'moderation_blocked'));
    }
    if (prompt.includes('always-500')) return send(500, err('The server had an error while processing your request. Sorry about that!', 'server_error', null));
    if (prompt.includes('rate-limit-once') && !limited.has(prompt)) {
      limited.add(prompt);
      return send(429, err('Rate limit reached for gpt-image-1 in organization org-x on images per minute (IPM): Limit 5, Used 5, Requested 1.', 'requests', 'rate_limit_exceeded'), { 'retry-after': '1', 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '0' });
    }
    if (prompt.includes('unavailable-once') && !limited.has(prompt)) {
      limited.add(prompt);
      return send(503, err('The engine is currently overloaded, please try again later.', 'server_error', null), { 'retry-after-ms': '1800' });
    }
    if (prompt.includes('slow')) await new Promise((r) => setTimeout(r, 2000));
    if (prompt.includes('url-internal')) return send(200, JSON.stringify({ created: 1, data: [{ url: 'http://169.254.169.254/latest/meta-data/iam' }] }));
    if (prompt.includes('url-own')) {
      const port = (server.address() as { port: number }).port;
      return send(200, JSON.stringify({ created: 1, data: Array.from({ length: n }, (_, i) => ({ url: `http://127.0.0.1:${port}/files/${i}` })) }));
    }
    // Some OpenAI-compatible servers ignore `n` and always answer with one image.
    if (prompt.includes('ignores-n')) n = 1;
    const [w, h] = size.split('x').map(Number);
    const data = [];
    for (let i = 0; i < n; i++) {
      const png = await sharp({ create: { width: w!, height: h!, channels: 3, background: { r: (i * 60) % 256, g: 128, b: 200 } } }).png().toBuffer();
      data.push({ b64_json: png.toString('base64') });
    }
    send(200, JSON.stringify({ created: Math.floor(Date.now() / 1000), data, usage: { total_tokens: 100, input_tokens: 50, output_tokens: 50, input_tokens_details: { text_tokens: 50, image_tokens: 0 } } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, seen, close: () => new Promise((r) => server.close(() => r())) };
}
