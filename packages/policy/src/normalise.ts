/**
 * The text the policy is matched against. Every step undoes one way of spelling a banned word so
 * that a reader still sees it but a plain comparison does not:
 *
 * 1. Unicode NFKC: full-width, circled, mathematical and other compatibility letters become plain
 *    ones (ｎｕｄｅ, ⓝⓤⓓⓔ, 𝐧𝐮𝐝𝐞 → nude), ligatures come apart.
 * 2. Control characters become spaces; invisible ones (zero-width, bidi controls, soft hyphens,
 *    variation selectors, tags, Hangul fillers) are removed: n\u200Bude → nude.
 * 3. Traditional (and Taiwan, Hong Kong) Chinese → Simplified with OpenCC (opencc-js), so one
 *    set of Simplified terms covers both: 強姦 → 强奸.
 * 4. Case folding (lower, upper, lower again: ẞ → ß → SS → ss).
 * 5. Confusables → Latin (the `confusables` library, built from Unicode's confusables data and
 *    aimed at exactly this): Cyrillic and Greek look-alikes, accented and decorated letters
 *    (nudе with a Cyrillic е, fück). Applied to everything but Chinese, Japanese and Korean
 *    script, which it would turn into Latin letters (乙 → Z).
 * 6. Remaining combining marks are dropped (NFD, remove marks, NFC): zalgo text, stray accents.
 *
 * Splitting into words, digit and symbol substitutions and spaced-out letters are handled by the
 * matcher (match.ts), which needs to know where the words were.
 */
import { remove as removeConfusables } from 'confusables';
import { Converter } from 'opencc-js/t2cn';

const hkToSimplified = Converter({ from: 'hk', to: 'cn' });
const twToSimplified = Converter({ from: 'tw', to: 'cn' });

// eslint-disable-next-line no-control-regex -- control characters are what this removes
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;
/** Characters that show as nothing (format characters and the blank-looking fillers). */
const INVISIBLE = /\p{Cf}|[\u115F\u1160\u2800\u3164\uFFA0]|[\u180B-\u180F]|\u034F|\u17B4|\u17B5|[\uFE00-\uFE0F]|[\u{E0100}-\u{E01EF}]/gu;
/** Runs of text outside the CJK scripts (and their punctuation), where confusables apply. */
const NOT_CJK = /[^\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u3000-\u303F\u30FC]+/gu;

/** Traditional Chinese → Simplified (Taiwan and Hong Kong variants included); other text unchanged. */
export function toSimplified(text: string): string {
  return twToSimplified(hkToSimplified(text));
}

/** The normalised form of a text (steps 1–6 above). */
export function normaliseForPolicy(text: string): string {
  let s = text.normalize('NFKC').replace(CONTROL, ' ').replace(INVISIBLE, '');
  s = toSimplified(s);
  s = s.toLowerCase().toUpperCase().toLowerCase();
  s = s.replace(NOT_CJK, (run) => removeConfusables(run));
  return s.normalize('NFD').replace(/\p{M}/gu, '').normalize('NFC').toLowerCase();
}
