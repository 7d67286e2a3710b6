/**
 * Scores the matcher on a labelled corpus (bench/policy-corpus.json): precision and recall of
 * refusals, which refused items named another rule than expected, and every misclassified item.
 * Used by the bench script (bench/policy.ts) and by the test that holds the recorded floor.
 */
import { matchPolicy } from './match.js';

export interface CorpusItem {
  text: string;
  label: 'refuse' | 'allow';
  /** The rule a refused item should break. */
  rule?: string;
  /** How it is spelled (plain, spaced, leet, cyrillic, zh-traditional, benign…). */
  kind: string;
  note?: string;
}

export interface CorpusScore {
  total: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
  precision: number;
  recall: number;
  /** Refused, but under another rule than the label's. */
  otherRule: { item: CorpusItem; got: string }[];
  missed: CorpusItem[];
  wronglyRefused: { item: CorpusItem; got: string }[];
  /** Refusals caught per kind of spelling: [caught, of]. */
  recallByKind: Record<string, [number, number]>;
}

export function scoreCorpus(items: readonly CorpusItem[]): CorpusScore {
  const s: CorpusScore = { total: items.length, truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0, precision: 0, recall: 0, otherRule: [], missed: [], wronglyRefused: [], recallByKind: {} };
  for (const item of items) {
    const got = matchPolicy(item.text)?.id;
    if (item.label === 'refuse') {
      const k = (s.recallByKind[item.kind] ??= [0, 0]);
      k[1]++;
      if (got) {
        s.truePositives++;
        k[0]++;
        if (item.rule && got !== item.rule) s.otherRule.push({ item, got });
      } else {
        s.falseNegatives++;
        s.missed.push(item);
      }
    } else if (got) {
      s.falsePositives++;
      s.wronglyRefused.push({ item, got });
    } else s.trueNegatives++;
  }
  s.precision = s.truePositives / Math.max(1, s.truePositives + s.falsePositives);
  s.recall = s.truePositives / Math.max(1, s.truePositives + s.falseNegatives);
  return s;
}
