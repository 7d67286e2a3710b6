import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo, Socket } from 'node:net';
import sharp from 'sharp';
import { WebSocketServer, type WebSocket } from 'ws';

/** An API-format workflow as a client sends it. */
type Workflow = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;

export interface SeenPrompt {
  at: number;
  promptId: string;
  clientId: string;
  prompt: Workflow;
}

interface NodeError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

type Kind = 'link' | 'INT' | 'FLOAT' | 'STRING' | 'COMBO';
interface InputSpec {
  kind: Kind;
  min?: number;
  max?: number;
  /** COMBO: the values it takes (a function: computed when the prompt is validated). */
  values?: () => string[];
}

const MAX_RESOLUTION = 16384;
const SAMPLERS = ['euler', 'euler_ancestral', 'heun', 'dpm_2', 'dpmpp_2m', 'dpmpp_2m_sde', 'dpmpp_sde', 'lcm', 'ddim', 'uni_pc'];
const SCHEDULERS = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform', 'beta'];

/**
 * A stand-in for a ComfyUI server that speaks its wire format: POST /prompt (validated like the
 * real server, refusals as 400 {error, node_errors}), GET /queue, POST /queue {delete}, POST
 * /interrupt, GET /history/{id}, POST /history {delete, clear}, GET /view, POST /upload/image (multipart `image`), GET
 * /system_stats, and /ws?clientId= with status, execution_start, execution_cached, executing,
 * progress (and binary preview frames), executed, execution_success, execution_error and
 * execution_interrupted. It evaluates the graph for real (sizes, batches, latent blends of
 * uploaded images) and saves PNGs of the size and count the graph makes.
 *
 * Prompts steer it: a CLIPTextEncode text containing `node-error` fails the KSampler mid-run;
 * `restart-once` restarts the server mid-render the first time that exact text runs (every
 * WebSocket dropped, queue and history forgotten); `restart-always` every time; `garbage-history`
 * answers its history with something that is not JSON. `down()` and `up()` stop and start it.
 */
export class FakeComfyUi {
  readonly seen: SeenPrompt[] = [];
  readonly uploads = new Map<string, Buffer>();
  /** The ids of the jobs in the server's history (POST /history {delete} removes them). */
  historyIds(): string[] {
    return [...this.history.keys()];
  }
  readonly checkpoints = ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'];
  /** Time per sampler step. */
  stepMs = 15;
  /** Restarts that happened (by prompt or by restart()). */
  restarts = 0;
  private readonly server = createServer((req, res) => void this.handle(req, res).catch((err) => this.send(res, 500, { error: String(err) })));
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Map<string, Set<WebSocket>>();
  private readonly history = new Map<string, Record<string, unknown>>();
  private readonly files = new Map<string, Buffer>();
  private readonly restartedTexts = new Set<string>();
  private pending: { number: number; id: string; prompt: Workflow; clientId: string; outputs: string[] }[] = [];
  private running: { number: number; id: string; prompt: Workflow; clientId: string; outputs: string[]; interrupted: boolean } | undefined;
  private number = 0;
  private counter = 0;
  private epoch = 0;
  private wakeRunner: (() => void) | undefined;
  private port = 0;
  private closed = false;

  static async start(opts: { stepMs?: number } = {}): Promise<FakeComfyUi> {
    const fake = new FakeComfyUi();
    if (opts.stepMs !== undefined) fake.stepMs = opts.stepMs;
    fake.server.on('connection', (s) => {
      fake.sockets.add(s);
      s.once('close', () => fake.sockets.delete(s));
    });
    fake.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/ws') return void socket.destroy();
      fake.wss.handleUpgrade(req, socket, head, (ws) => fake.onSocket(ws, url.searchParams.get('clientId') ?? randomUUID().replaceAll('-', '')));
    });
    await fake.up();
    void fake.runner();
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts answering (again, on the same port). */
  async up(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops answering: connections refused, every socket dropped (a server that is down). The jobs are forgotten. */
  async down(): Promise<void> {
    this.forget();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** A restart: every WebSocket dropped, the queue, the running job and the history forgotten (uploads and outputs stay on disk). */
  restart(): void {
    this.restarts++;
    this.forget();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeRunner?.();
    await this.down().catch(() => undefined);
    this.wss.close();
  }

  private forget() {
    this.epoch++;
    this.pending = [];
    this.running = undefined;
    this.history.clear();
    for (const set of this.clients.values()) for (const ws of set) ws.terminate();
    this.clients.clear();
  }

  private onSocket(ws: WebSocket, clientId: string) {
    let set = this.clients.get(clientId);
    if (!set) this.clients.set(clientId, (set = new Set()));
    set.add(ws);
    ws.once('close', () => set.delete(ws));
    ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queueRemaining() } }, sid: clientId } }));
  }

  private queueRemaining() {
    return this.pending.length + (this.running ? 1 : 0);
  }

  private emit(clientId: string | null, type: string, data: Record<string, unknown>) {
    const text = JSON.stringify({ type, data });
    const targets = clientId === null ? [...this.clients.values()].flatMap((s) => [...s]) : [...(this.clients.get(clientId) ?? [])];
    for (const ws of targets) if (ws.readyState === ws.OPEN) ws.send(text);
  }

  private emitBinary(clientId: string, bytes: Buffer) {
    for (const ws of this.clients.get(clientId) ?? []) if (ws.readyState === ws.OPEN) ws.send(bytes, { binary: true });
  }

  private broadcastStatus() {
    this.emit(null, 'status', { status: { exec_info: { queue_remaining: this.queueRemaining() } } });
  }

  private send(res: ServerResponse, status: number, body: unknown) {
    if (res.headersSent) return void res.end();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /system_stats') {
      return this.send(res, 200, {
        system: { os: 'posix', python_version: '3.12.3', embedded_python: false, comfyui_version: '0.3.60', ram_total: 67_000_000_000, ram_free: 40_000_000_000 },
        devices: [{ name: 'cuda:0 FAKE GPU', type: 'cuda', index: 0, vram_total: 25_000_000_000, vram_free: 20_000_000_000 }],
      });
    }
    if (route === 'GET /queue') {
      const item = (p: { number: number; id: string; prompt: Workflow; clientId: string; outputs: string[] }) => [p.number, p.id, p.prompt, { client_id: p.clientId }, p.outputs];
      return this.send(res, 200, { queue_running: this.running ? [item(this.running)] : [], queue_pending: this.pending.map(item) });
    }
    if (route === 'POST /queue') {
      const body = JSON.parse((await this.body(req)).toString() || '{}') as { delete?: string[]; clear?: boolean };
      if (body.clear) this.pending = [];
      if (body.delete) this.pending = this.pending.filter((p) => !body.delete!.includes(p.id));
      return this.send(res, 200, {});
    }
    if (route === 'POST /interrupt') {
      const raw = (await this.body(req)).toString();
      const body = raw ? (JSON.parse(raw) as { prompt_id?: string }) : {};
      if (this.running && (!body.prompt_id || body.prompt_id === this.running.id)) this.running.interrupted = true;
      return this.send(res, 200, {});
    }
    if (route === 'POST /history') {
      const body = JSON.parse((await this.body(req)).toString() || '{}') as { delete?: string[]; clear?: boolean };
      if (body.clear) this.history.clear();
      for (const id of body.delete ?? []) this.history.delete(id);
      return void res.writeHead(200).end();
    }
    if (req.method === 'GET' && url.pathname.startsWith('/history/')) {
      const id = decodeURIComponent(url.pathname.slice('/history/'.length));
      const entry = this.history.get(id);
      if (entry && JSON.stringify(entry.prompt).includes('garbage-history')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('<html>502 Bad Gateway</html>');
      }
      return this.send(res, 200, entry ? { [id]: entry } : {});
    }
    if (route === 'GET /view') {
      const type = url.searchParams.get('type') ?? 'output';
      const key = `${type}/${url.searchParams.get('subfolder') ?? ''}/${url.searchParams.get('filename') ?? ''}`;
      const bytes = type === 'input' ? this.uploads.get(url.searchParams.get('filename') ?? '') : this.files.get(key);
      if (!bytes) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
      return void res.end(bytes);
    }
    if (route === 'POST /upload/image') {
      const form = await new Response(new Uint8Array(await this.body(req)), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData().catch(() => undefined);
      const image = form?.get('image');
      if (!image || typeof image === 'string') return void res.writeHead(400).end();
      const subfolder = String(form!.get('subfolder') ?? '');
      let name = image.name;
      const bytes = Buffer.from(await image.arrayBuffer());
      const path = subfolder ? `${subfolder}/${name}` : name;
      if (form!.get('overwrite') !== 'true' && this.uploads.has(path)) {
        let i = 1;
        while (this.uploads.has(subfolder ? `${subfolder}/${name.replace(/(\.\w+)$/, ` (${i})$1`)}` : name.replace(/(\.\w+)$/, ` (${i})$1`))) i++;
        name = name.replace(/(\.\w+)$/, ` (${i})$1`);
      }
      this.uploads.set(subfolder ? `${subfolder}/${name}` : name, bytes);
      return this.send(res, 200, { name, subfolder, type: 'input' });
    }
    if (route === 'POST /prompt') return this.postPrompt(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404: Not Found');
  }

  private async postPrompt(req: IncomingMessage, res: ServerResponse) {
    let body: { prompt?: unknown; client_id?: unknown };
    try {
      body = JSON.parse((await this.body(req)).toString()) as typeof body;
    } catch {
      return this.send(res, 400, { error: { type: 'invalid_prompt', message: 'Invalid JSON', details: '', extra_info: {} }, node_errors: [] });
    }
    if (!body.prompt || typeof body.prompt !== 'object' || Array.isArray(body.prompt)) {
      return this.send(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: [] });
    }
    const prompt = body.prompt as Workflow;
    const verdict = this.validate(prompt);
    if ('error' in verdict) return this.send(res, 400, verdict);
    const id = randomUUID();
    const clientId = typeof body.client_id === 'string' ? body.client_id : '';
    this.seen.push({ at: Date.now(), promptId: id, clientId, prompt: structuredClone(prompt) });
    const number = this.number++;
    this.pending.push({ number, id, prompt, clientId, outputs: verdict.outputs });
    this.broadcastStatus();
    this.wakeRunner?.();
    return this.send(res, 200, { prompt_id: id, number, node_errors: {} });
  }

  private specs(): Record<string, { inputs: Record<string, InputSpec>; output?: boolean }> {
    const link: InputSpec = { kind: 'link' };
    const int = (min: number, max: number): InputSpec => ({ kind: 'INT', min, max });
    const float = (min: number, max: number): InputSpec => ({ kind: 'FLOAT', min, max });
    const combo = (values: () => string[]): InputSpec => ({ kind: 'COMBO', values });
    return {
      CheckpointLoaderSimple: { inputs: { ckpt_name: combo(() => this.checkpoints) } },
      CLIPTextEncode: { inputs: { text: { kind: 'STRING' }, clip: link } },
      EmptyLatentImage: { inputs: { width: int(16, MAX_RESOLUTION), height: int(16, MAX_RESOLUTION), batch_size: int(1, 4096) } },
      KSampler: {
        inputs: {
          model: link,
          seed: int(0, Number.MAX_SAFE_INTEGER),
          steps: int(1, 10000),
          cfg: float(0, 100),
          sampler_name: combo(() => SAMPLERS),
          scheduler: combo(() => SCHEDULERS),
          positive: link,
          negative: link,
          latent_image: link,
          denoise: float(0, 1),
        },
      },
      VAEDecode: { inputs: { samples: link, vae: link } },
      VAEEncode: { inputs: { pixels: link, vae: link } },
      SaveImage: { inputs: { images: link, filename_prefix: { kind: 'STRING' } }, output: true },
      // writes to ComfyUI's temp folder (emptied when it starts), type 'temp'
      PreviewImage: { inputs: { images: link }, output: true },
      LoadImage: { inputs: { image: combo(() => [...this.uploads.keys()]) } },
      ImageScale: { inputs: { image: link, upscale_method: combo(() => ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']), width: int(0, MAX_RESOLUTION), height: int(0, MAX_RESOLUTION), crop: combo(() => ['disabled', 'center']) } },
      LatentBlend: { inputs: { samples1: link, samples2: link, blend_factor: float(0, 1) } },
      RepeatLatentBatch: { inputs: { samples: link, amount: int(1, 64) } },
    };
  }

  /** As the real server validates: node types exist, outputs exist, and every input of every node an output needs is present, linked right and in range. */
  private validate(prompt: Workflow): { outputs: string[] } | { error: NodeError; node_errors: unknown } {
    const specs = this.specs();
    for (const [id, node] of Object.entries(prompt)) {
      if (typeof node?.class_type !== 'string') {
        return { error: { type: 'invalid_prompt', message: `Cannot execute because a node is missing the class_type property.`, details: `Node ID '#${id}'`, extra_info: {} }, node_errors: [] };
      }
      if (!specs[node.class_type]) {
        return { error: { type: 'invalid_prompt', message: `Cannot execute because node ${node.class_type} does not exist.`, details: `Node ID '#${id}'`, extra_info: {} }, node_errors: [] };
      }
    }
    const outputs = Object.entries(prompt)
      .filter(([, n]) => specs[n.class_type as string]!.output)
      .map(([id]) => id);
    if (outputs.length === 0) return { error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: [] };
    const nodeErrors: Record<string, { errors: NodeError[]; dependent_outputs: string[]; class_type: string }> = {};
    const checked = new Set<string>();
    const visit = (id: string, output: string) => {
      const node = prompt[id]!;
      const type = node.class_type as string;
      const errors: NodeError[] = [];
      for (const [name, spec] of Object.entries(specs[type]!.inputs)) {
        const value = node.inputs?.[name];
        const info = { input_name: name, received_value: value };
        if (value === undefined) {
          errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: name, extra_info: { input_name: name } });
          continue;
        }
        if (Array.isArray(value)) {
          const [from, index] = value as [unknown, unknown];
          if (typeof from !== 'string' || typeof index !== 'number' || !prompt[from]) {
            errors.push({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [string, int]', details: `${name}, ${JSON.stringify(value)}`, extra_info: info });
          } else if (!checked.has(from)) {
            checked.add(from);
            visit(from, output);
          }
          continue;
        }
        if (spec.kind === 'link') {
          errors.push({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [string, int]', details: `${name}, ${JSON.stringify(value)}`, extra_info: info });
        } else if (spec.kind === 'INT' || spec.kind === 'FLOAT') {
          const n = Number(value);
          if (typeof value === 'boolean' || !Number.isFinite(n) || (spec.kind === 'INT' && !Number.isInteger(n))) {
            errors.push({ type: 'invalid_input_type', message: `Failed to convert an input value to a ${spec.kind} value`, details: `${name}, ${String(value)}`, extra_info: info });
          } else if (n < spec.min!) errors.push({ type: 'value_smaller_than_min', message: `Value ${n} smaller than min of ${spec.min}`, details: name, extra_info: info });
          else if (n > spec.max!) errors.push({ type: 'value_bigger_than_max', message: `Value ${n} bigger than max of ${spec.max}`, details: name, extra_info: info });
        } else if (spec.kind === 'STRING') {
          if (typeof value !== 'string') errors.push({ type: 'invalid_input_type', message: 'Failed to convert an input value to a STRING value', details: `${name}, ${String(value)}`, extra_info: info });
        } else if (spec.kind === 'COMBO') {
          const allowed = spec.values!();
          if (!allowed.includes(String(value))) {
            errors.push({
              type: type === 'LoadImage' ? 'custom_validation_failed' : 'value_not_in_list',
              message: type === 'LoadImage' ? 'Custom validation failed for node' : 'Value not in list',
              details: type === 'LoadImage' ? `${name} - Invalid image file: ${String(value)}` : `${name}: '${String(value)}' not in ${JSON.stringify(allowed)}`,
              extra_info: info,
            });
          }
        }
      }
      if (errors.length) {
        const e = (nodeErrors[id] ??= { errors: [], dependent_outputs: [], class_type: type });
        if (e.errors.length === 0) e.errors = errors;
        if (!e.dependent_outputs.includes(output)) e.dependent_outputs.push(output);
      }
    };
    for (const out of outputs) {
      checked.add(out);
      visit(out, out);
    }
    if (Object.keys(nodeErrors).length) {
      return { error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} }, node_errors: nodeErrors };
    }
    return { outputs };
  }

  private async runner() {
    while (!this.closed) {
      const next = this.pending.shift();
      if (!next) {
        await new Promise<void>((resolve) => (this.wakeRunner = resolve));
        this.wakeRunner = undefined;
        continue;
      }
      this.running = { ...next, interrupted: false };
      try {
        await this.execute(this.running, this.epoch);
      } catch {
        // a restart dropped it
      }
      if (this.running?.id === next.id) this.running = undefined;
      this.broadcastStatus();
    }
  }

  /** Runs a prompt node by node, as the real executor reports it. */
  private async execute(job: NonNullable<FakeComfyUi['running']>, epoch: number) {
    const { id, prompt, clientId } = job;
    const alive = () => {
      if (this.epoch !== epoch) throw new Error('restarted');
    };
    const messages: [string, Record<string, unknown>][] = [];
    const emit = (type: string, data: Record<string, unknown>) => {
      if (type.startsWith('execution_')) messages.push([type, { ...data }]);
      this.emit(clientId, type, data);
    };
    emit('execution_start', { prompt_id: id, timestamp: Date.now() });
    emit('execution_cached', { nodes: [], prompt_id: id, timestamp: Date.now() });
    const texts = Object.values(prompt)
      .filter((n) => n.class_type === 'CLIPTextEncode')
      .map((n) => String(n.inputs?.text ?? ''));
    const positive = texts.join('\n');
    const values = new Map<string, unknown[]>();
    const outputs: Record<string, { images: { filename: string; subfolder: string; type: string }[] }> = {};
    const fail = (node: string, exceptionType: string, exceptionMessage: string) => {
      emit('execution_error', {
        prompt_id: id,
        node_id: node,
        node_type: prompt[node]!.class_type,
        executed: [...values.keys()],
        exception_message: exceptionMessage,
        exception_type: exceptionType,
        traceback: ['Traceback (most recent call last):\n', '  File "execution.py", line 496, in execute\n'],
        current_inputs: {},
        current_outputs: {},
      });
      // As the real server: the history is written once the executor returns, then `executing` null.
      this.history.set(id, { prompt: [job.number, id, prompt, { client_id: clientId }, job.outputs], outputs: {}, status: { status_str: 'error', completed: false, messages }, meta: {} });
      this.emit(clientId, 'executing', { node: null, prompt_id: id });
      return 'failed' as const;
    };
    const evaluate = async (nodeId: string): Promise<unknown[] | 'failed'> => {
      const done = values.get(nodeId);
      if (done) return done;
      const node = prompt[nodeId]!;
      const inputs: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(node.inputs ?? {})) {
        if (Array.isArray(value)) {
          const upstream = await evaluate(value[0] as string);
          if (upstream === 'failed') return 'failed';
          inputs[name] = upstream[value[1] as number];
        } else inputs[name] = value;
      }
      alive();
      if (job.interrupted) return 'failed';
      emit('executing', { node: nodeId, display_node: nodeId, prompt_id: id });
      let out: unknown[];
      switch (node.class_type) {
        case 'CheckpointLoaderSimple':
          out = ['MODEL', 'CLIP', 'VAE'];
          break;
        case 'CLIPTextEncode':
          out = [{ text: inputs.text }];
          break;
        case 'EmptyLatentImage':
          out = [{ width: Number(inputs.width), height: Number(inputs.height), batch: Number(inputs.batch_size), tint: null }];
          break;
        case 'LoadImage': {
          const bytes = this.uploads.get(String(inputs.image))!;
          const meta = await sharp(bytes).metadata();
          const stats = await sharp(bytes).stats();
          out = [{ width: meta.width, height: meta.height, batch: 1, tint: stats.channels.slice(0, 3).map((c) => c.mean) }, 'MASK'];
          break;
        }
        case 'ImageScale': {
          const img = inputs.image as { tint: number[] | null };
          out = [{ width: Number(inputs.width), height: Number(inputs.height), batch: 1, tint: img.tint }];
          break;
        }
        case 'VAEEncode':
          out = [{ ...(inputs.pixels as object) }];
          break;
        case 'LatentBlend': {
          const a = inputs.samples1 as { width: number; height: number; batch: number; tint: number[] | null };
          const b = inputs.samples2 as { tint: number[] | null };
          const f = Number(inputs.blend_factor);
          out = [{ ...a, tint: a.tint && b.tint ? a.tint.map((v, i) => v * f + b.tint![i]! * (1 - f)) : (a.tint ?? b.tint) }];
          break;
        }
        case 'RepeatLatentBatch': {
          const s = inputs.samples as { batch: number };
          out = [{ ...s, batch: s.batch * Number(inputs.amount) }];
          break;
        }
        case 'KSampler': {
          const steps = Number(inputs.steps);
          for (let step = 1; step <= steps; step++) {
            await sleep(this.stepMs);
            alive();
            if (job.interrupted) return 'failed';
            if (step === 3 && positive.includes('node-error')) return fail(nodeId, 'RuntimeError', 'mat1 and mat2 shapes cannot be multiplied (77x2048 and 768x320)');
            if (step === 3 && (positive.includes('restart-always') || (positive.includes('restart-once') && !this.restartedTexts.has(positive)))) {
              this.restartedTexts.add(positive);
              this.restart();
              alive();
            }
            emit('progress', { value: step, max: steps, prompt_id: id, node: nodeId });
            // A preview: event type 1 (PREVIEW_IMAGE), format 2 (PNG), then image bytes.
            if (step === Math.ceil(steps / 2)) this.emitBinary(clientId, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]), Buffer.from('not really a png')]));
          }
          const latent = inputs.latent_image as { width: number; height: number; batch: number; tint: number[] | null };
          out = [{ ...latent, seed: Number(inputs.seed), text: (inputs.positive as { text: string }).text, negative: (inputs.negative as { text: string }).text }];
          break;
        }
        case 'VAEDecode':
          out = [inputs.samples];
          break;
        case 'SaveImage':
        case 'PreviewImage': {
          const img = inputs.images as { width: number; height: number; batch: number; tint: number[] | null; seed: number; text: string; negative: string };
          const temp = node.class_type === 'PreviewImage';
          const prefix = temp ? `ComfyUI_temp_${createHash('sha256').update(id).digest('hex').slice(0, 5)}` : String(inputs.filename_prefix);
          const slash = prefix.lastIndexOf('/');
          const subfolder = slash >= 0 ? prefix.slice(0, slash) : '';
          const base = slash >= 0 ? prefix.slice(slash + 1) : prefix;
          const images = [];
          for (let i = 0; i < img.batch; i++) {
            const d = createHash('sha256').update(`${img.seed}\n${img.text}\n${img.negative}\n${i}`).digest();
            const own = [d[0]!, d[1]!, d[2]!];
            const rgb = img.tint ? own.map((v, c) => Math.round((v + img.tint![c]!) / 2)) : own;
            const png = await sharp({ create: { width: img.width, height: img.height, channels: 3, background: { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! } } })
              .png({ compressionLevel: 1 })
              .toBuffer();
            const filename = `${base}_${String(++this.counter).padStart(5, '0')}_.png`;
            this.files.set(`${temp ? 'temp' : 'output'}/${subfolder}/${filename}`, png);
            images.push({ filename, subfolder, type: temp ? 'temp' : 'output' });
          }
          outputs[nodeId] = { images };
          emit('executed', { node: nodeId, display_node: nodeId, output: { images }, prompt_id: id });
          out = [];
          break;
        }
        default:
          return fail(nodeId, 'NotImplementedError', `the fake does not run ${String(node.class_type)}`);
      }
      values.set(nodeId, out);
      return out;
    };
    for (const out of job.outputs) {
      const r = await evaluate(out);
      alive();
      if (job.interrupted) {
        const node = [...values.keys()].at(-1) ?? out;
        emit('execution_interrupted', { prompt_id: id, node_id: node, node_type: prompt[node]!.class_type, executed: [...values.keys()] });
        this.history.set(id, { prompt: [job.number, id, prompt, { client_id: clientId }, job.outputs], outputs: {}, status: { status_str: 'error', completed: false, messages }, meta: {} });
        this.emit(clientId, 'executing', { node: null, prompt_id: id });
        return;
      }
      if (r === 'failed') return;
    }
    emit('execution_success', { prompt_id: id, timestamp: Date.now() });
    this.history.set(id, { prompt: [job.number, id, prompt, { client_id: clientId }, job.outputs], outputs, status: { status_str: 'success', completed: true, messages }, meta: {} });
    this.emit(clientId, 'executing', { node: null, prompt_id: id });
  }
}

export const startFakeComfyUi = (opts?: { stepMs?: number }) => FakeComfyUi.start(opts);

/** A PNG of one colour (for reference uploads in tests that do not depend on sharp themselves). */
export const solidPng = (width: number, height: number, rgb: { r: number; g: number; b: number }) => sharp({ create: { width, height, channels: 3, background: rgb } }).png().toBuffer();
