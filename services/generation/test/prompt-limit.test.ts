import { describe, expect, it } from 'vitest';
import { GenerationRequest } from '../src/generations/generations.schemas.js';
import { loadGenerationConfig } from '../src/config.js';

describe('the prompt limit', () => {
  it('is the one the schema (and so the API document) states: 2,000 characters', () => {
    const config = loadGenerationConfig({ NODE_ENV: 'test' });
    expect(config.PROMPT_MAX_CHARS).toBe(2000);
    expect(GenerationRequest.properties.prompt.maxLength).toBe(config.PROMPT_MAX_CHARS);
    expect(GenerationRequest.properties.prompt.description).toMatch(/2,000 characters/);
  });

  it('cannot be configured above what the schema lets through', () => {
    expect(() => loadGenerationConfig({ NODE_ENV: 'test', PROMPT_MAX_CHARS: '8000' })).toThrow(/PROMPT_MAX_CHARS/);
  });
});
