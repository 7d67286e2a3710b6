/**
 * Optional model moderation through an OpenAI-compatible endpoint (`POST {base}/v1/moderations`,
 * `{ model, input }` → `{ results: [{ flagged, categories, category_scores }] }`). Off unless
 * MODERATION_ENABLED. It adds to the rules (@imlab/policy), never replaces them: the rules are
 * checked first, cost nothing and cannot be down.
 *
 * Each subject is its own request (the prompt; each reference or published image on its own), so
 * a refusal says which one was flagged. Text goes as a string; an image as
 * `[{ type: 'image_url', image_url: { url: 'data:image/png;base64,…' } }]` (its bytes travel,
 * never a link to our storage). The prompt text goes to the provider, nothing naming the person.
 *
 * When the endpoint cannot answer (timeout, refused connection, a non-2xx answer, a body that is
 * not the documented shape), `check` throws ModerationUnavailable; callers decide: creation fails
 * open or closed (MODERATION_CREATE_OUTAGE), publishing always fails closed.
 */
import type { PolicyField } from '@imlab/contracts';
import type { Logger } from '@imlab/logger';
import type { LocalizedText } from '@imlab/policy';
import type { RefusedRule } from '../generations/policy.js';

export interface ModerationConfig {
  MODERATION_ENABLED: boolean;
  MODERATION_BASE_URL: string;
  MODERATION_API_KEY: string;
  MODERATION_MODEL: string;
  MODERATION_TIMEOUT_MS: number;
  MODERATION_CREATE_OUTAGE: 'open' | 'closed';
}

export type ModerationSubject = { field: PolicyField; text: string } | { field: PolicyField; image: { bytes: Buffer; mime: string } };

/** The first flagged subject, with the categories the model gave. */
export interface ModerationFlag {
  field: PolicyField;
  categories: string[];
  rule: RefusedRule;
}

export class ModerationUnavailable extends Error {
  override readonly name = 'ModerationUnavailable';
}

/** The moderation categories (OpenAI's omni-moderation set) in words; an unknown one is named as given. */
const CATEGORY_TEXT: Record<string, LocalizedText> = {
  sexual: { en: 'sexual content', zh: '色情内容' },
  'sexual/minors': { en: 'sexual content involving minors', zh: '涉及未成年人的色情内容' },
  harassment: { en: 'harassment', zh: '骚扰内容' },
  'harassment/threatening': { en: 'threatening harassment', zh: '威胁性骚扰' },
  hate: { en: 'hateful content', zh: '仇恨内容' },
  'hate/threatening': { en: 'threatening hateful content', zh: '威胁性仇恨内容' },
  illicit: { en: 'instructions for illegal acts', zh: '违法行为指导' },
  'illicit/violent': { en: 'instructions for violent illegal acts', zh: '暴力违法行为指导' },
  'self-harm': { en: 'self-harm', zh: '自我伤害内容' },
  'self-harm/intent': { en: 'intent to self-harm', zh: '自我伤害意图' },
  'self-harm/instructions': { en: 'self-harm instructions', zh: '自我伤害方法' },
  violence: { en: 'violent content', zh: '暴力内容' },
  'violence/graphic': { en: 'graphic violence', zh: '血腥暴力内容' },
};

/** The rule a flag names: `moderation:<category>`, the most specific (sub)category first. */
export function moderationRule(categories: string[]): RefusedRule {
  const sorted = [...categories].sort((a, b) => Number(b.includes('/')) - Number(a.includes('/')) || a.localeCompare(b));
  const first = sorted[0] ?? 'flagged';
  const text = CATEGORY_TEXT[first] ?? { en: `content flagged as ${first}`, zh: `被标记为“${first}”的内容` };
  return { id: `moderation:${first}`, description: { en: `${text.en} (automatic moderation)`, zh: `${text.zh}（自动审核）` } };
}

interface ModerationAnswer {
  results: { flagged: boolean; categories: Record<string, boolean> }[];
}

function isAnswer(body: unknown): body is ModerationAnswer {
  const results = (body as { results?: unknown } | null)?.results;
  return Array.isArray(results) && results.length > 0 && results.every((r) => typeof r === 'object' && r !== null && typeof (r as { flagged?: unknown }).flagged === 'boolean');
}

export class Moderation {
  private readonly config: ModerationConfig;
  private readonly logger: Logger;
  constructor(
    config: ModerationConfig,
    logger: Logger,
  ) {
    this.config = config;
    this.logger = logger;
  }

  get enabled(): boolean {
    return this.config.MODERATION_ENABLED;
  }

  /** Whether creation goes on when the model cannot be asked. */
  get createFailsOpen(): boolean {
    return this.config.MODERATION_CREATE_OUTAGE === 'open';
  }

  /** The first flagged subject, or undefined. Throws ModerationUnavailable when the endpoint cannot answer. */
  async check(subjects: ModerationSubject[]): Promise<ModerationFlag | undefined> {
    if (!this.enabled || subjects.length === 0) return undefined;
    const answers = await Promise.all(subjects.map((s) => this.ask('text' in s ? s.text : [{ type: 'image_url', image_url: { url: `data:${s.image.mime};base64,${s.image.bytes.toString('base64')}` } }])));
    for (const [i, answer] of answers.entries()) {
      const flagged = answer.results.filter((r) => r.flagged);
      if (flagged.length === 0) continue;
      const categories = [...new Set(flagged.flatMap((r) => Object.entries(r.categories ?? {}).filter(([, on]) => on === true).map(([c]) => c)))];
      return { field: subjects[i]!.field, categories, rule: moderationRule(categories) };
    }
    return undefined;
  }

  private async ask(input: string | { type: 'image_url'; image_url: { url: string } }[]): Promise<ModerationAnswer> {
    const url = `${this.config.MODERATION_BASE_URL.replace(/\/+$/, '')}/v1/moderations`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.config.MODERATION_API_KEY ? { authorization: `Bearer ${this.config.MODERATION_API_KEY}` } : {}) },
        body: JSON.stringify({ model: this.config.MODERATION_MODEL, input }),
        signal: AbortSignal.timeout(this.config.MODERATION_TIMEOUT_MS),
        redirect: 'error',
      });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable';
      this.logger.warn({ reason }, 'moderation endpoint did not answer');
      throw new ModerationUnavailable(reason, { cause: err });
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok || !isAnswer(body)) {
      // The provider's error type only: its message may quote the input.
      const type = (body as { error?: { type?: unknown } } | undefined)?.error?.type;
      this.logger.warn({ status: res.status, type: typeof type === 'string' ? type : undefined }, 'moderation endpoint answered an error');
      throw new ModerationUnavailable(`status ${res.status}`);
    }
    return body;
  }
}
