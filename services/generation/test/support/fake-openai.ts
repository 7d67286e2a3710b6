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
 * What the real Images API accepts per model (its API reference), kept apart from the provider's
 * own table on purpose: the fake refuses what the real API refuses, so a provider table that
 * promised too much fails here.
 */
const MODELS: Record<string, { sizes: string[]; maxN: number; qualities: string[]; edits: { max: number; formats: string[] } | null; responseFormat: boolean }> = {
  'gpt-image-1': { sizes: ['1024x1024', '1536x1024', '1024x1536', 'auto'], maxN: 10, qualities: ['low', 'medium', 'high', 'auto'], edits: { max: 16, formats: ['image/png', 'image/jpeg', 'image/webp'] }, responseFormat: false },
  'gpt-image-1-mini': { sizes: ['1024x1024', '1536x1024', '1024x1536', 'auto'], maxN: 10, qualities: ['low', 'medium', 'high', 'auto'], edits: { max: 16, formats: ['image/png', 'image/jpeg', 'image/webp'] }, responseFormat: false },
  'dall-e-3': { sizes: ['1024x1024', '1792x1024', '1024x1792'], maxN: 1, qualities: ['standard', 'hd'], edits: null, responseFormat: true },
  'dall-e-2': { sizes: ['256x256', '512x512', '1024x1024'], maxN: 10, qualities: ['standard'], edits: { max: 1, formats: ['image/png'] }, responseFormat: true },
};
const KNOWN_PARAMS = new Set(['model', 'prompt', 'n', 'size', 'quality', 'response_format', 'style', 'user', 'background', 'moderation', 'output_format', 'output_compression', 'image', 'image[]', 'mask', 'input_fidelity', 'partial_images', 'stream']);

/** `'a', 'b', and 'c'`, as the API lists supported values. */
const listed = (values: string[]) => (values.length > 1 ? `${values.slice(0, -1).map((v) => `'${v}'`).join(', ')}, and '${values.at(-1)}'` : `'${values[0]}'`);
const invalid = (param: string, value: string, supported: string[]) =>
  err(`Invalid value: '${value}'. Supported values are: ${listed(supported)}.`, 'invalid_request_error', 'invalid_value', param);

/** The refusal the real API would answer for these parameters, or undefined. */
function refusal(endpoint: 'generations' | 'edits', params: Record<string, unknown>, files: { type: string }[]): string | undefined {
  for (const key of Object.keys(params)) if (!KNOWN_PARAMS.has(key)) return err(`Unknown parameter: '${key}'.`, 'invalid_request_error', 'unknown_parameter', key);
  if (params.prompt === undefined || params.prompt === '') return err("Missing required parameter: 'prompt'.", 'invalid_request_error', 'missing_required_parameter', 'prompt');
  const model = String(params.model ?? 'dall-e-2');
  const spec = MODELS[model];
  if (!spec) return invalid('model', model, Object.keys(MODELS));
  if (params.response_format !== undefined && !spec.responseFormat) return err("Unknown parameter: 'response_format'.", 'invalid_request_error', 'unknown_parameter', 'response_format');
  const size = params.size === undefined ? undefined : String(params.size);
  if (size !== undefined && !spec.sizes.includes(size)) return invalid('size', size, spec.sizes);
  const n = Number(params.n ?? 1);
  if (!Number.isInteger(n) || n < 1) return err(`Invalid 'n': integer below minimum value. Expected a value >= 1, but got ${String(params.n)} instead.`, 'invalid_request_error', 'integer_below_min_value', 'n');
  if (n > spec.maxN) return err(`Invalid 'n': integer above maximum value. Expected a value <= ${spec.maxN}, but got ${n} instead.`, 'invalid_request_error', 'integer_above_max_value', 'n');
  if (params.quality !== undefined && !spec.qualities.includes(String(params.quality))) return invalid('quality', String(params.quality), spec.qualities);
  if (endpoint === 'edits') {
    if (!spec.edits) return invalid('model', model, Object.keys(MODELS).filter((m) => MODELS[m]!.edits));
    if (files.length === 0) return err("Missing required parameter: 'image'.", 'invalid_request_error', 'missing_required_parameter', 'image');
    if (files.length > spec.edits.max) return err(`Invalid 'image': array too long. Expected an array with maximum length ${spec.edits.max}, but got an array with length ${files.length} instead.`, 'invalid_request_error', 'array_above_max_length', 'image');
    const bad = files.find((f) => !spec.edits!.formats.includes(f.type));
    if (bad) return err(`Invalid file 'image': unsupported mimetype ('${bad.type}'). Supported file formats are ${spec.edits.formats.map((f) => `'${f}'`).join(', ')}.`, 'invalid_request_error', 'unsupported_file_mimetype', 'image');
  }
  return undefined;
}

/**
 * A local stand-in for the OpenAI Images API that speaks its wire format: bearer auth, JSON
 * /images/generations, multipart /images/edits (image or image[]), `{created, data:[{b64_json}]}`
 * answers and `{error:{message,type,param,code}}` errors, 429 with retry-after. It refuses what the
 * real API refuses (400 with `param` and `code`): unknown parameters (`seed`), a missing prompt,
 * sizes, `n` and `quality` the model does not take, `response_format` for gpt-image models, edits
 * with too many images or of other formats. The prompt steers
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
      const refused = refusal('generations', json, []);
      if (refused) {
        seen.push(entry);
        return send(400, refused);
      }
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
      const params: Record<string, unknown> = { ...entry.fields };
      for (const f of entry.files) params[f.field] = true;
      const refused = refusal('edits', params, entry.files);
      if (refused) {
        seen.push(entry);
        return send(400, refused);
      }
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
    const [w, h] = (size === 'auto' ? '1024x1024' : size).split('x').map(Number);
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
