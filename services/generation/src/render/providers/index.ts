import type { Config } from '../../config.js';
import { LocalProvider } from './local.js';
import { OpenAiProvider } from './openai.js';
import type { ImageProvider } from './provider.js';

export * from './provider.js';
export { LocalProvider } from './local.js';
export { OpenAiProvider } from './openai.js';

export function createProvider(config: Pick<Config, 'IMAGE_PROVIDER' | 'LOCAL_RENDER_MS' | 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'OPENAI_MODEL'>): ImageProvider {
  if (config.IMAGE_PROVIDER === 'openai') return new OpenAiProvider({ apiKey: config.OPENAI_API_KEY, baseUrl: config.OPENAI_BASE_URL, model: config.OPENAI_MODEL });
  return new LocalProvider(config.LOCAL_RENDER_MS);
}
