import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scoreCorpus, type CorpusItem } from '../src/index.js';

/** The values recorded in docs/benchmarks.md: a change to the rules or the matcher may not go below them. */
const FLOOR = { precision: 0.996, recall: 0.977 };

const corpus = JSON.parse(readFileSync(new URL('../../../bench/policy-corpus.json', import.meta.url), 'utf8')) as { items: CorpusItem[] };

describe('the labelled corpus (bench/policy-corpus.json)', () => {
  it('has at least 300 prompts, in English and Chinese, both labels', () => {
    const { items } = corpus;
    expect(items.length).toBeGreaterThanOrEqual(300);
    expect(items.filter((i) => i.kind.startsWith('zh')).length).toBeGreaterThanOrEqual(100);
    expect(items.filter((i) => i.label === 'allow').length).toBeGreaterThanOrEqual(100);
    expect(items.filter((i) => i.label === 'refuse').every((i) => i.rule)).toBe(true);
  });

  it(`keeps precision ≥ ${FLOOR.precision} and recall ≥ ${FLOOR.recall}`, () => {
    const score = scoreCorpus(corpus.items);
    const report = { missed: score.missed.map((i) => i.text), wronglyRefused: score.wronglyRefused.map((w) => `${w.item.text} → ${w.got}`) };
    expect(score.precision, JSON.stringify(report)).toBeGreaterThanOrEqual(FLOOR.precision);
    expect(score.recall, JSON.stringify(report)).toBeGreaterThanOrEqual(FLOOR.recall);
  });
});
