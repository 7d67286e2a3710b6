import { loadConfig, baseEnv, port, str, num, url, duration, bool, listenPort } from '@imlab/config';
import { IMAGE_MODEL_IDS } from '@imlab/contracts';
import { openAiTierProblems, type OpenAiTiers } from './render/providers/capabilities.js';
import { loadTierWorkflow, type ComfyUiTiers } from './render/providers/comfyui-workflow.js';
import { PROMPT_SCHEMA_MAX_CHARS } from './generations/generations.schemas.js';

export const configSpec = {
  ...baseEnv,
  PORT: port({ default: 4003 }),
  /** /metrics, on its own internal listener (never the public PORT). */
  METRICS_PORT: listenPort({ default: 9403 }),
  /** Health and metrics of the render worker process. */
  WORKER_PORT: port({ default: 4103 }),
  /** The render worker's /metrics listener. */
  WORKER_METRICS_PORT: listenPort({ default: 9413 }),
  DATABASE_NAME: str({ default: 'imlab_generation' }),
  DB_POOL_SIZE: num({ default: 10 }),

  IMAGE_PROVIDER: str({ choices: ['local', 'openai', 'comfyui'], default: 'local' }),
  /** Artificial render time of the local provider (load tests). */
  LOCAL_RENDER_MS: num({ default: 0 }),
  OPENAI_API_KEY: str({ default: '' }),
  OPENAI_BASE_URL: url({ default: 'https://api.openai.com/v1' }),
  /** The model and quality behind each tier (see README: each tier must differ from the ones priced differently). */
  OPENAI_MODEL_DRAFT: str({ default: 'gpt-image-1-mini' }),
  OPENAI_QUALITY_DRAFT: str({ default: 'medium' }),
  OPENAI_MODEL_STANDARD: str({ default: 'gpt-image-1' }),
  OPENAI_QUALITY_STANDARD: str({ default: 'medium' }),
  OPENAI_MODEL_PRO: str({ default: 'gpt-image-1' }),
  OPENAI_QUALITY_PRO: str({ default: 'high' }),
  /** Allow two tiers at different prices to render with the same model and quality. */
  OPENAI_ALLOW_SHARED_TIER_MODEL: bool({ default: false }),
  PROVIDER_TIMEOUT_MS: num({ default: 120_000 }),
  /** The ComfyUI servers, comma-separated base URLs (http://gpu-1:8188,http://gpu-2:8188): each render goes to the least busy. */
  COMFYUI_URLS: str({ default: '' }),
  /** An API-format workflow file per tier (its node map beside it: x.json → x.nodes.json); empty: the shipped one. */
  COMFYUI_WORKFLOW_DRAFT: str({ default: '' }),
  COMFYUI_WORKFLOW_STANDARD: str({ default: '' }),
  COMFYUI_WORKFLOW_PRO: str({ default: '' }),
  /** How often a job is looked up over HTTP once its WebSocket has dropped. */
  COMFYUI_POLL_MS: num({ default: 1000 }),

  STORAGE: str({ choices: ['fs', 's3'], default: 'fs' }),
  STORAGE_DIR: str({ default: '.data/generation' }),
  S3_ENDPOINT: str({ default: '' }),
  S3_REGION: str({ default: 'auto' }),
  S3_BUCKET: str({ default: '' }),
  S3_ACCESS_KEY_ID: str({ default: '' }),
  S3_SECRET_ACCESS_KEY: str({ default: '' }),
  S3_FORCE_PATH_STYLE: str({ choices: ['true', 'false'], default: 'true' }),
  /** Each S3 call's limit per attempt (the SDK retries 3 times): a store that hangs fails instead. */
  S3_TIMEOUT_MS: num({ default: 30_000 }),

  /** Render jobs one worker process runs at once. */
  RENDER_CONCURRENCY: num({ default: 2 }),
  /** Running renders one person may have across all workers. */
  RENDER_USER_CAP: num({ default: 2 }),
  /**
   * Render jobs one person may have on the queue at once (queued or running); the rest wait in the
   * database and are dispatched oldest first as theirs end, so a long backlog never stands in
   * front of someone else's job (fair dispatch, docs/benchmarks.md "Render backlog").
   */
  RENDER_USER_QUEUED: num({ default: 4 }),
  /** Attempts for transient provider errors before the generation fails and is refunded. */
  RENDER_MAX_ATTEMPTS: num({ default: 4 }),
  /** BullMQ job lock; a killed worker's job is recovered after about lock + stalled interval. */
  RENDER_LOCK_MS: num({ default: 30_000 }),
  RENDER_STALLED_INTERVAL_MS: num({ default: 30_000 }),

  /** How long POST /v1/generations waits for the ledger before answering 202 reserving. */
  RESERVE_WAIT_MS: num({ default: 3000 }),
  /** Credits stay held this long; an unfinished generation then fails and the ledger releases. */
  HOLD_TTL: duration({ default: 1800 }),
  /**
   * A render must finish at least this long before its hold expires, or it is failed and refunded:
   * the capture still has to reach the ledger (commit, relay, queue) before the ledger's expiry
   * returns the credits, which would leave the images delivered and never paid for.
   */
  HOLD_CAPTURE_MARGIN: duration({ default: 120 }),
  /** At most PROMPT_SCHEMA_MAX_CHARS (2,000), the limit the API document states. */
  PROMPT_MAX_CHARS: num({ default: PROMPT_SCHEMA_MAX_CHARS }),

  /** Model moderation (an OpenAI-compatible POST {base}/v1/moderations) on top of the content policy's rules; off by default. */
  MODERATION_ENABLED: bool({ default: false }),
  MODERATION_BASE_URL: url({ default: 'https://api.openai.com' }),
  MODERATION_API_KEY: str({ default: '' }),
  MODERATION_MODEL: str({ default: 'omni-moderation-latest' }),
  MODERATION_TIMEOUT_MS: num({ default: 5000 }),
  /** When the endpoint cannot answer while a generation is created: go on (open) or refuse with 503 (closed). Publishing always refuses. */
  MODERATION_CREATE_OUTAGE: str({ choices: ['open', 'closed'] as const, default: 'open' }),

  UPLOAD_MAX_BYTES: num({ default: 10 * 1024 * 1024 }),
  UPLOAD_MAX_PIXELS: num({ default: 40_000_000 }),
  /** Unused reference uploads are deleted after this. */
  UPLOAD_TTL: duration({ default: 86_400 }),
  SWEEP_INTERVAL_MS: num({ default: 60_000 }),

  /** Distinct open reports that hide a gallery image until a moderator reviews it. */
  REPORT_HIDE_THRESHOLD: num({ default: 3 }),
  /** Reports one hashed address may send per REPORT_RATE_WINDOW. */
  REPORT_RATE_LIMIT: num({ default: 10 }),
  REPORT_RATE_WINDOW: duration({ default: 3600 }),
};

export type Config = ReturnType<typeof loadGenerationConfig>;

type TierVars = 'OPENAI_MODEL_DRAFT' | 'OPENAI_QUALITY_DRAFT' | 'OPENAI_MODEL_STANDARD' | 'OPENAI_QUALITY_STANDARD' | 'OPENAI_MODEL_PRO' | 'OPENAI_QUALITY_PRO';

/** The model and quality per tier (an empty quality: the model's default, not sent). Undefined while a variable is bad. */
export function openAiTiersOf(config: Partial<Pick<Config, TierVars>>): OpenAiTiers | undefined {
  const { OPENAI_MODEL_DRAFT: d, OPENAI_MODEL_STANDARD: s, OPENAI_MODEL_PRO: p } = config;
  if (d === undefined || s === undefined || p === undefined) return undefined;
  const q = (v: string | undefined) => (v ? v : null);
  return {
    'imlab-draft': { model: d, quality: q(config.OPENAI_QUALITY_DRAFT) },
    'imlab-standard': { model: s, quality: q(config.OPENAI_QUALITY_STANDARD) },
    'imlab-pro': { model: p, quality: q(config.OPENAI_QUALITY_PRO) },
  };
}

const COMFYUI_TIER_VARS = {
  'imlab-draft': 'COMFYUI_WORKFLOW_DRAFT',
  'imlab-standard': 'COMFYUI_WORKFLOW_STANDARD',
  'imlab-pro': 'COMFYUI_WORKFLOW_PRO',
} as const;

/** The ComfyUI base URLs of COMFYUI_URLS (comma- or space-separated). */
export const comfyUiUrlsOf = (value: string) => value.split(/[\s,]+/).filter(Boolean);

const comfyCache = new Map<string, ComfyUiTiers>();

/** The workflow and node map per tier (files read once per set of paths). Throws naming the bad variable. */
export function comfyUiTiersOf(config: Partial<Pick<Config, (typeof COMFYUI_TIER_VARS)[keyof typeof COMFYUI_TIER_VARS]>>): ComfyUiTiers {
  const key = IMAGE_MODEL_IDS.map((id) => config[COMFYUI_TIER_VARS[id]] ?? '').join('\n');
  let tiers = comfyCache.get(key);
  if (!tiers) {
    tiers = {} as ComfyUiTiers;
    for (const id of IMAGE_MODEL_IDS) {
      try {
        tiers[id] = loadTierWorkflow(id, config[COMFYUI_TIER_VARS[id]] ?? '');
      } catch (err) {
        throw new Error(`${COMFYUI_TIER_VARS[id]}: ${(err as Error).message}`, { cause: err });
      }
    }
    comfyCache.set(key, tiers);
  }
  return tiers;
}

export function loadGenerationConfig(env: NodeJS.ProcessEnv = process.env) {
  // Cross-variable rules envalid cannot express, reported in the same message.
  return loadConfig('generation', configSpec, env, (config, problems) => {
    if (config.STORAGE === 's3') {
      for (const key of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) if (!config[key]) problems[key] = 'is required when STORAGE=s3';
    }
    if (config.IMAGE_PROVIDER === 'openai' && !config.OPENAI_API_KEY) problems.OPENAI_API_KEY = 'is required when IMAGE_PROVIDER=openai';
    // One model for every tier sold Draft, Standard and Pro at 1, 2 and 4 credits: replaced.
    if (env.OPENAI_MODEL) problems.OPENAI_MODEL = 'is replaced by OPENAI_MODEL_DRAFT, OPENAI_MODEL_STANDARD and OPENAI_MODEL_PRO (with OPENAI_QUALITY_*)';
    if (config.IMAGE_PROVIDER === 'openai') {
      const tiers = openAiTiersOf(config);
      if (tiers) Object.assign(problems, openAiTierProblems(tiers, config.OPENAI_ALLOW_SHARED_TIER_MODEL ?? false));
    }
    if (config.IMAGE_PROVIDER === 'comfyui') {
      const urls = comfyUiUrlsOf(config.COMFYUI_URLS ?? '');
      if (urls.length === 0) problems.COMFYUI_URLS = 'is required when IMAGE_PROVIDER=comfyui (comma-separated base URLs of the ComfyUI servers)';
      const bad = urls.filter((u) => !/^https?:\/\/[^/\s]+/.test(u) || !URL.canParse(u));
      if (bad.length) problems.COMFYUI_URLS = `has URLs that are not http(s) base URLs: ${bad.join(', ')}`;
      for (const id of IMAGE_MODEL_IDS) {
        try {
          comfyUiTiersOf({ [COMFYUI_TIER_VARS[id]]: config[COMFYUI_TIER_VARS[id]] ?? '' });
        } catch (err) {
          problems[COMFYUI_TIER_VARS[id]] = (err as Error).message.replace(`${COMFYUI_TIER_VARS[id]}: `, '');
        }
      }
    }
    if (config.COMFYUI_POLL_MS !== undefined && config.COMFYUI_POLL_MS < 10) problems.COMFYUI_POLL_MS = 'must be at least 10';
    if (config.PROMPT_MAX_CHARS !== undefined && (config.PROMPT_MAX_CHARS < 1 || config.PROMPT_MAX_CHARS > PROMPT_SCHEMA_MAX_CHARS)) {
      problems.PROMPT_MAX_CHARS = `must be between 1 and ${PROMPT_SCHEMA_MAX_CHARS} (the limit the API document states)`;
    }
    if (config.MODERATION_ENABLED && !config.MODERATION_API_KEY) problems.MODERATION_API_KEY = 'is required when MODERATION_ENABLED=true';
    if (config.MODERATION_TIMEOUT_MS !== undefined && (config.MODERATION_TIMEOUT_MS < 100 || config.MODERATION_TIMEOUT_MS > 60_000)) problems.MODERATION_TIMEOUT_MS = 'must be between 100 and 60000';
    if (config.REPORT_HIDE_THRESHOLD !== undefined && config.REPORT_HIDE_THRESHOLD < 1) problems.REPORT_HIDE_THRESHOLD = 'must be at least 1';
    if (config.REPORT_RATE_LIMIT !== undefined && config.REPORT_RATE_LIMIT < 1) problems.REPORT_RATE_LIMIT = 'must be at least 1';
    if (config.RENDER_CONCURRENCY !== undefined && config.RENDER_CONCURRENCY < 1) problems.RENDER_CONCURRENCY = 'must be at least 1';
    if (config.RENDER_USER_CAP !== undefined && config.RENDER_USER_CAP < 1) problems.RENDER_USER_CAP = 'must be at least 1';
    if (config.RENDER_USER_QUEUED !== undefined && config.RENDER_USER_QUEUED < 1) problems.RENDER_USER_QUEUED = 'must be at least 1';
    if (config.HOLD_CAPTURE_MARGIN !== undefined && config.HOLD_TTL !== undefined && config.HOLD_CAPTURE_MARGIN >= config.HOLD_TTL) {
      problems.HOLD_CAPTURE_MARGIN = `must be shorter than HOLD_TTL (${config.HOLD_TTL} s)`;
    }
  });
}

/**
 * The render worker's Postgres pool: a connection per render at once and two more (the relay and
 * the rest of the worker). k8s's connection budget is checked against it (e2e/test/deploy-files.test.ts).
 */
export const workerPoolSize = (config: Pick<Config, 'RENDER_CONCURRENCY'>) => Math.max(2, config.RENDER_CONCURRENCY + 2);
