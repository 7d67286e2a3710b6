import { Type, type Static } from '@sinclair/typebox';
import { ASPECT_RATIOS, IMAGE_MODEL_IDS, IMAGE_SIZES, MAX_IMAGES_PER_GENERATION, MAX_REFERENCE_IMAGES, Problem } from '@imlab/contracts';
import type { GenerationRow, ImageRow } from '../db.js';

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const GenerationRequest = Type.Object(
  {
    // The schema bounds the raw text; the service applies PROMPT_MAX_CHARS after normalising.
    prompt: Type.String({ minLength: 1, maxLength: 8000 }),
    // null (what a generation's view shows when there is none) means none.
    negativePrompt: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    model: Type.Optional(literals(IMAGE_MODEL_IDS)),
    aspectRatio: Type.Optional(literals(Object.keys(ASPECT_RATIOS) as (keyof typeof ASPECT_RATIOS)[])),
    size: Type.Optional(literals(IMAGE_SIZES)),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_IMAGES_PER_GENERATION })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    referenceUploadIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: MAX_REFERENCE_IMAGES, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type GenerationRequest = Static<typeof GenerationRequest>;

export const Quote = Type.Object({
  model: Type.String(),
  size: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  count: Type.Integer(),
  creditsPerImage: Type.Integer(),
  cost: Type.Integer(),
});

export const Accepted = Type.Object({ id: Type.String(), status: Type.String(), cost: Type.Integer() });

export const ImageView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  thumbUrl: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  published: Type.Boolean(),
});

export const GenerationView = Type.Object({
  id: Type.String(),
  status: Type.String(),
  prompt: Type.String(),
  negativePrompt: Type.Union([Type.String(), Type.Null()]),
  model: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  count: Type.Integer(),
  seed: Type.Integer(),
  referenceUploadIds: Type.Array(Type.String()),
  cost: Type.Integer(),
  errorCode: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  images: Type.Array(ImageView),
});
export type GenerationView = Static<typeof GenerationView>;

export const GenerationPage = Type.Object({ items: Type.Array(GenerationView), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const PageQuery = Type.Object({ cursor: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) });
export const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7E]+$' })) });
export const ProblemRef = Problem;

export function imageView(img: ImageRow): Static<typeof ImageView> {
  return {
    id: img.id,
    url: `/v1/images/${img.id}`,
    thumbUrl: `/v1/images/${img.id}/thumb`,
    width: img.width,
    height: img.height,
    published: img.published_at !== null,
  };
}

export function generationView(g: GenerationRow, images: ImageRow[]): GenerationView {
  return {
    id: g.id,
    status: g.status,
    prompt: g.prompt,
    negativePrompt: g.negative_prompt,
    model: g.model,
    width: g.width,
    height: g.height,
    count: g.count,
    seed: g.seed,
    referenceUploadIds: g.reference_upload_ids,
    cost: g.cost,
    errorCode: g.error_code,
    createdAt: g.created_at.toISOString(),
    startedAt: g.started_at?.toISOString() ?? null,
    finishedAt: g.finished_at?.toISOString() ?? null,
    images: images.filter((i) => i.generation_id === g.id).map(imageView),
  };
}
