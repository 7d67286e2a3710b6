import { readFileSync } from 'node:fs';
import { IMAGE_MODEL_IDS, IMAGE_MODELS, IMAGE_SIZES, MAX_IMAGES_PER_GENERATION, type ImageModelId } from '@imlab/contracts';
import type { ProviderCapabilities, TierCapabilities } from './capabilities.js';
import draftWorkflow from '../../../workflows/comfyui/draft.json' with { type: 'json' };
import draftNodes from '../../../workflows/comfyui/draft.nodes.json' with { type: 'json' };
import standardWorkflow from '../../../workflows/comfyui/standard.json' with { type: 'json' };
import standardNodes from '../../../workflows/comfyui/standard.nodes.json' with { type: 'json' };
import proWorkflow from '../../../workflows/comfyui/pro.json' with { type: 'json' };
import proNodes from '../../../workflows/comfyui/pro.nodes.json' with { type: 'json' };

/** A ComfyUI workflow in API format: node id → { class_type, inputs }. An input is a value or a link [nodeId, outputIndex]. */
export type ApiWorkflow = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title?: string } }>;

/** One place in the graph: [node id, input name]. */
export type Target = [string, string];

/**
 * Where a request's values go in a tier's workflow (the sidecar `<workflow>.nodes.json`): each
 * value to every listed node input, so nothing is found by searching the graph's text.
 */
export interface NodeMap {
  /** What the options list shows as the tier's model (default: the checkpoint's name). */
  model?: string;
  /** What the options list shows as the tier's quality (e.g. "25 steps dpmpp_2m"). */
  quality?: string;
  /** The SaveImage node whose images are the result. */
  output: string;
  prompt: Target[];
  /** Absent: the tier does not honour a negative prompt. */
  negativePrompt?: Target[];
  /** Absent: the tier does not honour a seed (a random one is not sent either). */
  seed?: Target[];
  width: Target[];
  height: Target[];
  batchSize: Target[];
  /** Sizes (`WxH`) this tier renders; default: every size the API sells. */
  sizes?: string[];
  /** Most images per request; default: the API's maximum. */
  maxCount?: number;
  /**
   * Reference images: one LoadImage input per slot (a request with fewer references fills the
   * remaining slots with them again, in turn); the nodes that exist only for references are
   * removed, and `withoutReferences` input values applied, when a request has none. null: none taken.
   */
  references: { slots: Target[]; onlyWithReferences: string[]; withoutReferences: Record<string, Record<string, unknown>> } | null;
}

export interface TierWorkflow {
  /** Where it came from (the shipped file or the operator's path), for messages. */
  source: string;
  workflow: ApiWorkflow;
  nodes: NodeMap;
}

export type ComfyUiTiers = Record<ImageModelId, TierWorkflow>;

const SHIPPED: Record<ImageModelId, TierWorkflow> = {
  'imlab-draft': { source: 'workflows/comfyui/draft.json', workflow: draftWorkflow as unknown as ApiWorkflow, nodes: draftNodes as unknown as NodeMap },
  'imlab-standard': { source: 'workflows/comfyui/standard.json', workflow: standardWorkflow as unknown as ApiWorkflow, nodes: standardNodes as unknown as NodeMap },
  'imlab-pro': { source: 'workflows/comfyui/pro.json', workflow: proWorkflow as unknown as ApiWorkflow, nodes: proNodes as unknown as NodeMap },
};

const SOLD = IMAGE_SIZES as readonly string[];
const REFERENCE_FORMATS = ['image/png', 'image/jpeg', 'image/webp'];

/** The sidecar of a workflow file: `x.json` → `x.nodes.json`. */
export const nodeMapPathOf = (workflowPath: string) => workflowPath.replace(/(\.json)?$/, '.nodes.json');

/** The workflow of one tier: the operator's file (and its sidecar node map) or the shipped one. Throws a message naming what is wrong. */
export function loadTierWorkflow(tier: ImageModelId, path: string): TierWorkflow {
  if (!path) return SHIPPED[tier];
  const read = (p: string): unknown => {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${p} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${p} is not JSON`);
    }
  };
  const t: TierWorkflow = { source: path, workflow: read(path) as ApiWorkflow, nodes: read(nodeMapPathOf(path)) as NodeMap };
  const problems = workflowProblems(t);
  if (problems.length) throw new Error(problems.join('; '));
  return t;
}

/** What is wrong with a tier's workflow and node map (start-up refuses them), as sentences. */
export function workflowProblems(t: TierWorkflow): string[] {
  const { workflow, nodes } = t;
  const out: string[] = [];
  if (!workflow || typeof workflow !== 'object' || Array.isArray(workflow)) return [`${t.source} is not an API-format workflow (an object of nodes; export it with "Save (API Format)")`];
  for (const [id, node] of Object.entries(workflow)) {
    if (!node || typeof node.class_type !== 'string' || !node.inputs || typeof node.inputs !== 'object') out.push(`${t.source}: node ${id} has no class_type and inputs (is it the API format?)`);
  }
  if (out.length) return out;
  if (!nodes || typeof nodes !== 'object') return [`${nodeMapPathOf(t.source)} is not a node map`];
  const check = (name: string, targets: unknown, required: boolean) => {
    if (targets === undefined && !required) return;
    if (!Array.isArray(targets) || targets.length === 0) return void out.push(`node map: ${name} must list [node, input] pairs`);
    for (const target of targets) {
      if (!Array.isArray(target) || target.length !== 2) return void out.push(`node map: ${name} has ${JSON.stringify(target)}, not [node, input]`);
      const [node, input] = target as Target;
      if (!workflow[node]) out.push(`node map: ${name} names node ${node}, which is not in the workflow`);
      else if (!(input in workflow[node].inputs)) out.push(`node map: ${name} names input ${input} of node ${node} (${workflow[node].class_type}), which it does not have`);
    }
  };
  check('prompt', nodes.prompt, true);
  check('negativePrompt', nodes.negativePrompt, false);
  check('seed', nodes.seed, false);
  check('width', nodes.width, true);
  check('height', nodes.height, true);
  check('batchSize', nodes.batchSize, true);
  if (!workflow[nodes.output]) out.push(`node map: output names node ${String(nodes.output)}, which is not in the workflow`);
  else if (!['SaveImage', 'PreviewImage'].includes(workflow[nodes.output]!.class_type)) out.push(`node map: output node ${nodes.output} is a ${workflow[nodes.output]!.class_type}, not a SaveImage`);
  if (nodes.sizes !== undefined && (!Array.isArray(nodes.sizes) || nodes.sizes.some((s) => !SOLD.includes(s)) || nodes.sizes.length === 0)) out.push(`node map: sizes must be some of ${SOLD.join(', ')}`);
  if (nodes.maxCount !== undefined && (!Number.isInteger(nodes.maxCount) || nodes.maxCount < 1)) out.push('node map: maxCount must be a whole number of at least 1');
  if (nodes.references) {
    check('references.slots', nodes.references.slots, true);
    for (const id of nodes.references.onlyWithReferences ?? []) if (!workflow[id]) out.push(`node map: references.onlyWithReferences names node ${id}, which is not in the workflow`);
    for (const [id, inputs] of Object.entries(nodes.references.withoutReferences ?? {})) {
      if (!workflow[id]) out.push(`node map: references.withoutReferences names node ${id}, which is not in the workflow`);
      else for (const input of Object.keys(inputs)) if (!(input in workflow[id].inputs)) out.push(`node map: references.withoutReferences names input ${input} of node ${id}, which it does not have`);
    }
  } else if (nodes.references !== null) out.push('node map: references must be null or {slots, onlyWithReferences, withoutReferences}');
  return out;
}

export function comfyUiCapabilities(tiers: ComfyUiTiers): ProviderCapabilities {
  const out = {} as Record<ImageModelId, TierCapabilities>;
  for (const id of IMAGE_MODEL_IDS) {
    const { workflow, nodes } = tiers[id];
    const checkpoint = Object.values(workflow).find((n) => n.class_type === 'CheckpointLoaderSimple')?.inputs.ckpt_name;
    const refs = IMAGE_MODELS[id].acceptsReferences ? nodes.references : null;
    out[id] = {
      providerModel: nodes.model ?? (typeof checkpoint === 'string' ? checkpoint : 'comfyui'),
      quality: nodes.quality ?? null,
      sizes: nodes.sizes ? SOLD.filter((s) => nodes.sizes!.includes(s)) : [...SOLD],
      maxCount: Math.min(nodes.maxCount ?? MAX_IMAGES_PER_GENERATION, MAX_IMAGES_PER_GENERATION),
      seed: !!nodes.seed,
      negativePrompt: !!nodes.negativePrompt,
      references: refs ? { max: refs.slots.length, formats: [...REFERENCE_FORMATS] } : null,
      progress: true,
    };
  }
  return { provider: 'comfyui', tiers: out };
}

export interface Placement {
  prompt: string;
  negativePrompt: string | null;
  seed: number;
  width: number;
  height: number;
  count: number;
  /** Names ComfyUI gave the uploaded reference images (subfolder/name). */
  referenceNames: string[];
}

/** A copy of the tier's workflow with the request's values in the mapped node inputs. */
export function placeInWorkflow(t: TierWorkflow, p: Placement): ApiWorkflow {
  const wf = structuredClone(t.workflow);
  const { nodes } = t;
  if (nodes.references && p.referenceNames.length === 0) {
    for (const id of nodes.references.onlyWithReferences) delete wf[id];
    for (const [id, inputs] of Object.entries(nodes.references.withoutReferences)) Object.assign(wf[id]!.inputs, structuredClone(inputs));
  }
  const set = (targets: Target[] | undefined, value: unknown) => {
    for (const [node, input] of targets ?? []) if (wf[node]) wf[node].inputs[input] = value;
  };
  set(nodes.prompt, p.prompt);
  set(nodes.negativePrompt, p.negativePrompt ?? '');
  set(nodes.seed, p.seed);
  set(nodes.width, p.width);
  set(nodes.height, p.height);
  set(nodes.batchSize, p.count);
  if (nodes.references && p.referenceNames.length) {
    nodes.references.slots.forEach(([node, input], i) => {
      if (wf[node]) wf[node].inputs[input] = p.referenceNames[i % p.referenceNames.length];
    });
  }
  return wf;
}
