/**
 * Matching a normalised text (normalise.ts) against the rules (rules.ts).
 *
 * Latin text is read as words, twice: once with every symbol a separator ("n.u.d.e" → n u d e),
 * once with the symbols people put for letters kept inside words (@ $ ! +). In each reading:
 * - a run of two or more one-character words is joined into one word ("n u d e" → nude). Only such
 *   runs are joined, and the joined run must then match a term as a whole word, so a spaced-out
 *   "s c u n t h o r p e" stays the harmless word it is;
 * - digits and symbols inside a word that has letters read as the letters they stand for
 *   (0→o, 1→i, 3→e, 4 and @→a, 5 and $→s, 7 and +→t, 8→b, 9→g, !→i), and l and i are one letter
 *   (1 and | stand for either): terms are compared in the same form;
 * - a term's word matches a whole word, each letter as often repeated as wanted (raaape).
 * Word boundaries are what keep "cocktail", "Scunthorpe", "therapist" and "sexagenarian" out.
 *
 * Chinese is matched on the Simplified text with everything but Chinese characters removed
 * (强 奸, 强.奸, 强*奸 → 强奸); a term in parts matches its parts in any order within a sentence.
 */
import { POLICY_RULES, type PolicyRule } from './rules.js';
import { normaliseForPolicy } from './normalise.js';

const LEET: Readonly<Record<string, string>> = { '0': 'o', '1': 'i', l: 'i', '|': 'i', '!': 'i', '3': 'e', '4': 'a', '@': 'a', '5': 's', $: 's', '7': 't', '+': 't', '8': 'b', '9': 'g' };
const HAN = /\p{sc=Han}/u;
const HAS_LETTER = /\p{L}/u;
/** Symbols that stand for letters inside a word (the second reading). */
const LEET_SYMBOLS = '@$!+|';
/** Sentence ends: parts of a Chinese term must be in the same sentence. */
const SENTENCE_END = /[。!?;\n]/;
/** How many extra words (Latin) or characters (Chinese) may come between a term's parts. */
const LATIN_SLACK = 2;
const HAN_SLACK = 4;
/** Marks a removed allowed phrase: matches nothing and keeps neighbours apart. */
const GAP = '\u0000';

const skeleton = (word: string) => [...word].map((c) => LEET[c] ?? c).join('');

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One word of a term as a pattern over a skeleton word: each letter repeatable, `*` any ending. */
function wordPattern(word: string): string {
  const prefix = word.endsWith('*');
  const letters = [...skeleton(prefix ? word.slice(0, -1) : word)].map((c) => `${escape(c)}+`).join('');
  return prefix ? `${letters}\\p{L}*` : letters;
}

interface LatinTerm {
  kind: 'latin';
  words: RegExp[];
  /** The words written together ("childporn"), for a text that wrote them so or spaced out every letter. */
  joined: RegExp | undefined;
}
interface HanTerm {
  kind: 'han';
  parts: string[];
}
type Term = LatinTerm | HanTerm;

function compileTerm(term: string): Term {
  if (HAN.test(term)) return { kind: 'han', parts: term.split(/\s+/).filter(Boolean) };
  const words = term.toLowerCase().split(/\s+/).filter(Boolean);
  return {
    kind: 'latin',
    words: words.map((w) => new RegExp(`^${wordPattern(w)}$`, 'u')),
    joined: words.length > 1 ? new RegExp(`^${words.map(wordPattern).join('')}$`, 'u') : undefined,
  };
}

interface CompiledRule {
  rule: PolicyRule;
  terms: Term[];
}

/**
 * The harmless phrases of every rule, taken out before any rule is matched: a phrase harmless for
 * one rule is harmless for all ("a child by a naked tree" is not "child naked").
 */
const ALLOWED = POLICY_RULES.flatMap((r) => r.allow ?? []);
const ALLOW_LATIN = ALLOWED.filter((a) => !HAN.test(a)).map((a) => a.toLowerCase().split(/\s+/).map((w) => new RegExp(`^${wordPattern(w)}$`, 'u')));
const ALLOW_HAN = ALLOWED.filter((a) => HAN.test(a)).map((a) => a.replace(/\s+/g, ''));

/** A text read for matching: its Latin words (two readings) and its Chinese characters. */
export interface PolicyText {
  readings: string[][];
  /** Chinese characters only, sentence ends kept as '\n'. */
  han: string;
}

/** Words of one letter in English: a spaced-out run may start with one ("a n u d e"). */
const ONE_LETTER_WORDS = new Set(['a', 'i']);

function joinSingleLetterRuns(tokens: string[], detachArticle: boolean): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    // "a r a p e a" → a, rape, a: the one-letter words at either end may be words of their own.
    const head = detachArticle && run.length >= 3 && ONE_LETTER_WORDS.has(run[0]!) ? run.shift() : undefined;
    const tail = detachArticle && run.length >= 3 && ONE_LETTER_WORDS.has(run[run.length - 1]!) ? run.pop() : undefined;
    if (head) out.push(head);
    if (run.length >= 2) out.push(run.join(''));
    else out.push(...run);
    if (tail) out.push(tail);
    run = [];
  };
  for (const t of tokens) {
    if ([...t].length === 1) run.push(t);
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}

function reading(latin: string, separators: RegExp, detachArticle: boolean): string[] {
  const tokens = joinSingleLetterRuns(latin.split(separators).filter(Boolean), detachArticle);
  // A one-character word joined with its neighbours, or a word with letters: read its digits and symbols as letters.
  return tokens.map((t) => (HAS_LETTER.test(t) || [...t].length > 1 ? skeleton(t) : t));
}

/** Normalises a text and splits it into what the rules are matched against. */
export function readText(text: string): PolicyText {
  const s = normaliseForPolicy(text).replace(/['’‘`´]/g, '');
  const latin = s.replace(/[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}]/gu, ' ');
  const symbols = escape(LEET_SYMBOLS);
  const plain = /[^\p{L}\p{N}]+/u;
  const leet = new RegExp(`[^\\p{L}\\p{N}${symbols}]+`, 'u');
  const all = [plain, leet].flatMap((separators) => [false, true].map((detach) => reading(latin, separators, detach)));
  const readings = [...new Map(all.map((r) => [r.join(' '), r])).values()];
  const han = [...s].map((c) => (HAN.test(c) ? c : SENTENCE_END.test(c) ? '\n' : '')).join('');
  return { readings, han };
}

function removeLatinAllowed(tokens: string[], allow: RegExp[][]): string[] {
  if (allow.length === 0) return tokens;
  const out = [...tokens];
  for (const phrase of allow) {
    for (let i = 0; i + phrase.length <= out.length; i++) {
      if (phrase.every((p, j) => p.test(out[i + j]!))) for (let j = 0; j < phrase.length; j++) out[i + j] = GAP;
    }
  }
  return out;
}

/** Whether one position per part can be chosen, all different, spanning at most the parts' widths + slack. */
function withinWindow(positions: number[][], slack: number, width: (i: number) => number): boolean {
  const limit = positions.reduce((n, _, i) => n + width(i), 0) + slack;
  const pick = (i: number, starts: number[], lo: number, hi: number): boolean => {
    if (i === positions.length) return true;
    for (const p of positions[i]!) {
      if (starts.includes(p)) continue;
      const nlo = Math.min(lo, p);
      const nhi = Math.max(hi, p + width(i));
      if (nhi - nlo <= limit && pick(i + 1, [...starts, p], nlo, nhi)) return true;
    }
    return false;
  };
  return pick(0, [], Infinity, -Infinity);
}

function matchesLatin(term: LatinTerm, tokens: string[]): boolean {
  if (term.joined && tokens.some((t) => term.joined!.test(t))) return true;
  if (term.words.length === 1) return tokens.some((t) => term.words[0]!.test(t));
  const positions = term.words.map((w) => tokens.flatMap((t, i) => (w.test(t) ? [i] : [])));
  if (positions.some((p) => p.length === 0)) return false;
  return withinWindow(positions, LATIN_SLACK, () => 1);
}

function occurrences(text: string, part: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(part); i !== -1; i = text.indexOf(part, i + 1)) out.push(i);
  return out;
}

function matchesHan(term: HanTerm, han: string): boolean {
  if (term.parts.length === 1) return han.replace(/\n/g, '').includes(term.parts[0]!);
  return han.split('\n').some((sentence) => {
    const positions = term.parts.map((p) => occurrences(sentence, p));
    if (positions.some((p) => p.length === 0)) return false;
    return withinWindow(positions, HAN_SLACK, (i) => [...term.parts[i]!].length);
  });
}

const COMPILED: CompiledRule[] = POLICY_RULES.map((rule) => ({ rule, terms: rule.terms.map(compileTerm) }));

/** Whether a read text (allowed phrases already taken out) breaks one rule. */
function breaks(c: CompiledRule, text: PolicyText): boolean {
  return c.terms.some((term) => (term.kind === 'han' ? text.han !== '' && matchesHan(term, text.han) : text.readings.some((r) => matchesLatin(term, r))));
}

/** The first rule (in the rules' order, most serious first) a text breaks, or undefined. */
export function matchPolicy(text: string | null | undefined): PolicyRule | undefined {
  if (!text) return undefined;
  const read = readText(text);
  let han = read.han;
  for (const a of ALLOW_HAN) han = han.split(a).join(GAP);
  const cleared = { readings: read.readings.map((r) => removeLatinAllowed(r, ALLOW_LATIN)), han };
  return COMPILED.find((c) => breaks(c, cleared))?.rule;
}
