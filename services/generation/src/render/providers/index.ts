import type { Config } from '../../config.js';
import { comfyUiTiersOf, comfyUiUrlsOf, openAiTiersOf } from '../../config.js';
import { ComfyUiProvider } from './comfyui.js';
import { comfyUiCapabilities } from './comfyui-workflow.js';
import { localCapabilities, openAiCapabilities, type ProviderCapabilities } from './capabilities.js';
import { LocalProvider } from './local.js';
import { OpenAiProvider } from './openai.js';
import type { ImageProvider } from './provider.js';

export * from './provider.js';
export * from './capabilities.js';
export { LocalProvider } from './local.js';
export { OpenAiProvider } from './openai.js';
export { ComfyUiProvider } from './comfyui.js';
export * from './comfyui-workflow.js';

type ProviderConfig = Pick<
  Config,
  | 'IMAGE_PROVIDER'
  | 'LOCAL_RENDER_MS'
  | 'OPENAI_API_KEY'
  | 'OPENAI_BASE_URL'
  | 'OPENAI_MODEL_DRAFT'
  | 'OPENAI_QUALITY_DRAFT'
  | 'OPENAI_MODEL_STANDARD'
  | 'OPENAI_QUALITY_STANDARD'
  | 'OPENAI_MODEL_PRO'
  | 'OPENAI_QUALITY_PRO'
  | 'COMFYUI_URLS'
  | 'COMFYUI_WORKFLOW_DRAFT'
  | 'COMFYUI_WORKFLOW_STANDARD'
  | 'COMFYUI_WORKFLOW_PRO'
  | 'COMFYUI_POLL_MS'
>;

const cache = new WeakMap<object, ProviderCapabilities>();

/** The configured provider's capability table (the API checks requests against it; the worker's provider has the same). */
export function capabilitiesFor(config: ProviderConfig): ProviderCapabilities {
  let caps = cache.get(config);
  if (!caps) {
    caps =
      config.IMAGE_PROVIDER === 'openai' ? openAiCapabilities(openAiTiersOf(config)!) : config.IMAGE_PROVIDER === 'comfyui' ? comfyUiCapabilities(comfyUiTiersOf(config)) : localCapabilities();
    cache.set(config, caps);
  }
  return caps;
}

export function createProvider(config: ProviderConfig): ImageProvider {
  if (config.IMAGE_PROVIDER === 'openai') return new OpenAiProvider({ apiKey: config.OPENAI_API_KEY, baseUrl: config.OPENAI_BASE_URL, tiers: openAiTiersOf(config)! });
  if (config.IMAGE_PROVIDER === 'comfyui') return new ComfyUiProvider({ baseUrls: comfyUiUrlsOf(config.COMFYUI_URLS), tiers: comfyUiTiersOf(config), pollMs: config.COMFYUI_POLL_MS });
  return new LocalProvider(config.LOCAL_RENDER_MS);
}
