import { describe, expect, it } from 'vitest';
import { matchPolicy, normaliseForPolicy, POLICY_RULES, POLICY_VERSION, toSimplified } from '../src/index.js';

const ruleOf = (text: string) => matchPolicy(text)?.id;

describe('the rules', () => {
  it('each has an id, a category, both descriptions, a version and terms; ids are unique', () => {
    expect(POLICY_VERSION).toMatch(/^\d{4}-\d{2}-\d{2}\.\d+$/);
    for (const r of POLICY_RULES) {
      expect(r.id).toMatch(/^[a-z-]+$/);
      expect(r.category).toBeTruthy();
      expect(r.description.en.length).toBeGreaterThan(3);
      expect(r.description.zh).toMatch(/\p{sc=Han}/u);
      expect(r.version).toBeGreaterThanOrEqual(1);
      expect(r.terms.length).toBeGreaterThan(0);
    }
    expect(new Set(POLICY_RULES.map((r) => r.id)).size).toBe(POLICY_RULES.length);
  });

  it('every term of every rule refuses under that rule, written plainly', () => {
    for (const rule of POLICY_RULES) {
      for (const term of rule.terms) {
        const text = term.replace(/\*$/, '').replace(/\s+/g, /\p{sc=Han}/u.test(term) ? '' : ' ');
        expect(matchPolicy(`a picture: ${text}`)?.id, `${rule.id}: ${term}`).toBeDefined();
      }
    }
  });
});

describe('normaliseForPolicy', () => {
  it('applies NFKC, folds case and maps confusables to Latin', () => {
    expect(normaliseForPolicy('ｎｕｄｅ')).toBe('nude');
    expect(normaliseForPolicy('𝐍𝐔𝐃𝐄')).toBe('nude');
    expect(normaliseForPolicy('ⓝⓤⓓⓔ')).toBe('nude');
    expect(normaliseForPolicy('NuDe')).toBe('nude');
    expect(normaliseForPolicy('nudе')).toBe('nude'); // Cyrillic е
    expect(normaliseForPolicy('rаре')).toBe('rape'); // Cyrillic а, р, е
    expect(normaliseForPolicy('ναkεd')).toBe('vaked'); // Greek ν α ε: ν reads as v, as it looks
    expect(normaliseForPolicy('STRAẞE')).toBe('strasse');
  });

  it('removes zero-width, bidi and other invisible characters and combining marks', () => {
    expect(normaliseForPolicy('n\u200Bu\u200Cd\u200De\u2060')).toBe('nude');
    expect(normaliseForPolicy('nu\u00ADde')).toBe('nude');
    expect(normaliseForPolicy('\u202Enude\u202C')).toBe('nude');
    expect(normaliseForPolicy('ń̖ü̖d̖é̖')).toBe('nude');
    expect(normaliseForPolicy('n\uFE0Fude')).toBe('nude');
  });

  it('turns Traditional Chinese into Simplified and leaves Chinese characters otherwise alone', () => {
    expect(toSimplified('強姦')).toBe('强奸');
    expect(normaliseForPolicy('兒童色情')).toBe('儿童色情');
    expect(normaliseForPolicy('乙一口工')).toBe('乙一口工'); // confusables would make 乙 a Z
  });
});

describe('matchPolicy: evasions', () => {
  it.each([
    ['plain', 'a nude woman', 'sexual-explicit'],
    ['upper and mixed case', 'A NuDe WoMaN', 'sexual-explicit'],
    ['full-width', 'ａ ｎｕｄｅ woman', 'sexual-explicit'],
    ['Cyrillic look-alikes', 'а nudе woman', 'sexual-explicit'],
    ['Greek look-alikes', 'τοpless model', 'sexual-explicit'],
    ['zero-width inside the word', 'a n\u200Bu\u200Bd\u200Be woman', 'sexual-explicit'],
    ['soft hyphen', 'a nu\u00ADde woman', 'sexual-explicit'],
    ['spaced letters', 'a n u d e woman', 'sexual-explicit'],
    ['dotted letters', 'n.u.d.e woman', 'sexual-explicit'],
    ['dashes and underscores', 'r-a-p-e and r_a_p_e', 'sexual-violence'],
    ['spaced letters at the end of the text', 'draw her n u d e', 'sexual-explicit'],
    ['spaced letters next to a one-letter word', 'a man r a p i n g a woman', 'sexual-violence'],
    ['digits for letters', 'r4p3 scene', 'sexual-violence'],
    ['1 for l and i', 'k1ll mys3lf', 'self-harm'],
    ['@ and $', '$ex tape, @nal sex', 'sexual-explicit'],
    ['spaced digits', 'r 4 p 3', 'sexual-violence'],
    ['repeated letters', 'nuuuuude', 'sexual-explicit'],
    ['accents', 'nüdé', 'sexual-explicit'],
    ['math bold', '𝐧𝐮𝐝𝐞', 'sexual-explicit'],
    ['word order of a multi-word term', 'porn with a child', 'minors-sexual'],
    ['words of a multi-word term written together', 'childporn', 'minors-sexual'],
    ['a prefix term', 'beheaded prisoner', 'terrorism'],
  ])('%s', (_, text, rule) => {
    expect(ruleOf(text)).toBe(rule);
  });

  it.each([
    ['Simplified', '强奸场景', 'sexual-violence'],
    ['Traditional', '強姦場景', 'sexual-violence'],
    ['spaced', '强 奸', 'sexual-violence'],
    ['punctuation between characters', '強.姦', 'sexual-violence'],
    ['zero-width between characters', '强\u200B奸', 'sexual-violence'],
    ['ideographic spaces', '兒　童　色　情', 'minors-sexual'],
    ['parts in another order', '裸体的未成年人', 'minors-sexual'],
    ['split characters', '弓虽女干', 'sexual-violence'],
  ])('Chinese: %s', (_, text, rule) => {
    expect(ruleOf(text)).toBe(rule);
  });
});

describe('matchPolicy: harmless look-alikes pass', () => {
  it.each([
    'Scunthorpe United fans',
    'a cocktail party',
    "Assassin's Creed hero",
    'a cheerful sexagenarian',
    'a therapist and a patient',
    'purple grapes and velvet drapes',
    'rapeseed fields; a field of rape in spring',
    'Penistone station',
    'Middlesex, Essex and Sussex',
    'a same-sex wedding',
    'a peacock and a cocker spaniel',
    'pussy willow in a vase',
    'nude lipstick, nude-colored heels',
    'a naked mole rat; stars seen with the naked eye',
    'a child near a naked tree',
    'cumulus clouds over cucumbers',
    'the Niger river',
    'a chink in the armour',
    'a spic and span kitchen',
    'a killer whale and a skilled diver',
    's c u n t h o r p e',
    'a b c d e on toy blocks',
    'r2-d2 and c-3po',
    'I cut myself a slice of cake',
  ])('%s', (text) => {
    expect(ruleOf(text)).toBeUndefined();
  });

  it.each(['景色情调优美', '特色情人节礼物', '异性交友', '个性交流', '露点温度', '印度支那半岛', '初恋童年', '裸眼3D', '裸妆', '恐怖片', '儿童乐园', '未成年人保护法', '顏色情緒', '異性交友'])('Chinese: %s', (text) => {
    expect(ruleOf(text)).toBeUndefined();
  });

  it('keeps parts of a Chinese term in different sentences apart', () => {
    expect(ruleOf('儿童在公园玩。远处是一座裸体雕像')).toBe('sexual-explicit');
    expect(ruleOf('未成年人在公园玩。晚上看电影')).toBeUndefined();
  });

  it('answers nothing for empty input', () => {
    expect(matchPolicy('')).toBeUndefined();
    expect(matchPolicy(null)).toBeUndefined();
    expect(matchPolicy(undefined)).toBeUndefined();
  });
});
