/**
 * The content policy against its labelled corpus (policy-corpus.json): precision and recall of
 * refusals, the misclassified items, and the matcher's time per prompt.
 *
 *   pnpm --filter @imlab/bench policy        (or: pnpm exec tsx bench/policy.ts)
 *
 * Results are recorded in docs/benchmarks.md; packages/policy/test/corpus.test.ts fails when
 * precision or recall drop below the recorded values.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { matchPolicy, POLICY_VERSION, scoreCorpus, type CorpusItem } from '@imlab/policy';

const corpus = JSON.parse(readFileSync(new URL('./policy-corpus.json', import.meta.url), 'utf8')) as { items: CorpusItem[] };
const items = corpus.items;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const show = (t: string) => JSON.stringify(t);

const score = scoreCorpus(items);
const languages = { en: items.filter((i) => !i.kind.startsWith('zh')).length, zh: items.filter((i) => i.kind.startsWith('zh')).length };

// Time per prompt: every corpus item, and a 2,000-character prompt (the longest allowed).
const long = 'a watercolour of a quiet harbour at dawn, fishing boats, gulls, mist over the water, '.repeat(24).slice(0, 2000);
for (const i of items) matchPolicy(i.text);
let t0 = performance.now();
const rounds = 5;
for (let r = 0; r < rounds; r++) for (const i of items) matchPolicy(i.text);
const perItem = (performance.now() - t0) / (rounds * items.length);
t0 = performance.now();
for (let r = 0; r < 50; r++) matchPolicy(long);
const perLong = (performance.now() - t0) / 50;

console.log(`policy ${POLICY_VERSION}: ${score.total} prompts (${languages.en} en, ${languages.zh} zh), ${score.truePositives + score.falseNegatives} to refuse, ${score.trueNegatives + score.falsePositives} to allow`);
console.log(`precision ${pct(score.precision)} (${score.truePositives} / ${score.truePositives + score.falsePositives})`);
console.log(`recall    ${pct(score.recall)} (${score.truePositives} / ${score.truePositives + score.falseNegatives})`);
console.log(`time      ${perItem.toFixed(3)} ms per corpus prompt, ${perLong.toFixed(2)} ms for a 2,000-character prompt`);
console.log('\nrecall by kind of spelling:');
for (const [kind, [caught, of]] of Object.entries(score.recallByKind).sort()) console.log(`  ${kind.padEnd(24)} ${caught}/${of}`);
console.log(`\nmissed (should be refused, passed): ${score.missed.length}`);
for (const i of score.missed) console.log(`  ${show(i.text)} [${i.kind}, ${i.rule}]${i.note ? ` — ${i.note}` : ''}`);
console.log(`\nwrongly refused (should pass): ${score.wronglyRefused.length}`);
for (const { item, got } of score.wronglyRefused) console.log(`  ${show(item.text)} → ${got}${item.note ? ` — ${item.note}` : ''}`);
console.log(`\nrefused under another rule than labelled: ${score.otherRule.length}`);
for (const { item, got } of score.otherRule) console.log(`  ${show(item.text)} → ${got}, labelled ${item.rule}`);
