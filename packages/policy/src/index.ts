/**
 * The content policy: rules as data (rules.ts), the normalisation that undoes spelling tricks
 * (normalise.ts) and the matcher (match.ts). Shared by generation (prompts, publishing) and auth
 * (display names). See README.md.
 */
export { POLICY_RULES, POLICY_VERSION, type LocalizedText, type PolicyCategory, type PolicyRule } from './rules.js';
export { normaliseForPolicy, toSimplified } from './normalise.js';
export { matchPolicy, readText, type PolicyText } from './match.js';
export { scoreCorpus, type CorpusItem, type CorpusScore } from './score.js';
