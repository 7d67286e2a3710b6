import { describe, expect, it } from 'vitest';
import { formatMoney, packFor } from '../src/api/money.js';

describe('prices', () => {
  it('are formatted from the minor unit for the locale', () => {
    expect(formatMoney(500, 'usd', 'en')).toBe('$5.00');
    expect(formatMoney(500, 'usd', 'zh')).toBe('US$5.00');
    expect(formatMoney(1200, 'jpy', 'en')).toBe('¥1,200'); // no minor unit
    expect(formatMoney(5000 / 1500, 'usd', 'en', 1)).toBe('$0.033');
  });
});

describe('the pack for a shortfall', () => {
  const packs = [{ credits: 500 }, { credits: 100 }, { credits: 1500 }];
  it('is the smallest that covers it', () => {
    expect(packFor(packs, 1)).toEqual({ credits: 100 });
    expect(packFor(packs, 100)).toEqual({ credits: 100 });
    expect(packFor(packs, 101)).toEqual({ credits: 500 });
  });
  it('is the largest when none covers it, and none without packs', () => {
    expect(packFor(packs, 5000)).toEqual({ credits: 1500 });
    expect(packFor([], 5)).toBeUndefined();
  });
});
