import { describe, expect, it } from 'vitest';
import { isSealed, seal, unseal } from '../src/index.js';

describe('sealed message fields', () => {
  const key = 'a-test-seal-key-of-some-length';
  it('round-trips and never shows the plaintext', () => {
    const link = 'https://imagemakerlab.example/verify-email?token=SECRET-TOKEN-123';
    const sealed = seal(link, key);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('SECRET-TOKEN-123');
    expect(seal(link, key)).not.toBe(sealed);
    expect(unseal(sealed, key)).toBe(link);
  });
  it('refuses a tampered value or the wrong key', () => {
    const sealed = seal('hello', key);
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => unseal(flipped, key)).toThrow();
    expect(() => unseal(sealed, 'another-key-entirely')).toThrow();
    expect(() => unseal('plain', key)).toThrow('not sealed');
  });
});
