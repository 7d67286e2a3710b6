/**
 * The content policy, as data. A rule names what it forbids in both languages (the refusal names
 * it); its `terms` are what the matcher looks for after normalisation (see README.md):
 *
 * - A Latin term is one or more words. Each word matches a whole word of the text (no Scunthorpe:
 *   "cocktail" is not "cock"), with letters repeated as often as wanted ("raaape"). A trailing `*`
 *   matches any ending ("behead*": beheads, beheaded, beheading) — only where no harmless word
 *   starts the same way. The words of a multi-word term may come in any order within a few words
 *   of each other ("child porn", "porn of a child").
 * - A Chinese term is matched as a substring (Chinese has no spaces), on Simplified Chinese. Parts
 *   separated by a space may come in any order within a few characters ("未成年 裸体": 裸体的未成年人).
 * - `allow` lists harmless phrases that contain a term; they are taken out of the text before the
 *   rule's terms are looked for ("nude lipstick", 印度支那).
 *
 * Changing a rule: bump its `version` and POLICY_VERSION, add the case to bench/policy-corpus.json,
 * run the bench (docs/benchmarks.md). Publishing re-checks images against the current rules, so a
 * new term also keeps older images matching it out of the gallery.
 */

export interface LocalizedText {
  en: string;
  zh: string;
}

export type PolicyCategory = 'sexual-minors' | 'sexual' | 'sexual-violence' | 'non-consensual' | 'violence' | 'self-harm' | 'extremism' | 'hate';

export interface PolicyRule {
  /** Stable; the refusal's `rule`. */
  readonly id: string;
  readonly category: PolicyCategory;
  /** What the rule forbids, in both languages (the refusal's message names it). */
  readonly description: LocalizedText;
  /** Bumped whenever the rule's terms or meaning change. */
  readonly version: number;
  readonly terms: readonly string[];
  readonly allow?: readonly string[];
}

/** The version of the whole rule set (a date and a counter); answered with every refusal. */
export const POLICY_VERSION = '2026-12-06.1';

/**
 * Rules are tried in this order and the first that matches is named: the more specific and more
 * serious first, plain nudity and explicit content last.
 */
export const POLICY_RULES: readonly PolicyRule[] = [
  {
    id: 'minors-sexual',
    category: 'sexual-minors',
    description: { en: 'sexual content involving minors', zh: '涉及未成年人的色情内容' },
    version: 2,
    terms: [
      'child porn*',
      'child sexual*',
      'child sex abuse',
      'child nude*',
      'child naked',
      'children porn*',
      'children nude*',
      'children naked',
      'kid porn*',
      'kid nude*',
      'kid naked',
      'kids nude*',
      'kids naked',
      'minor nude*',
      'minor naked',
      'minors nude*',
      'minors naked',
      'underage nude*',
      'underage naked',
      'underage sex',
      'underage sexual*',
      'underage porn*',
      'preteen nude*',
      'preteen naked',
      'preteen sex',
      'preteen sexual*',
      'loli hentai',
      'loli nude*',
      'loli naked',
      'loli porn*',
      'lolicon',
      'shotacon',
      'pedophil*',
      'paedophil*',
      'csam',
      '儿童色情',
      '幼女色情',
      '幼童色情',
      '未成年 色情',
      '未成年 裸体',
      '未成年 裸照',
      '儿童 裸体',
      '儿童 裸照',
      '幼女 裸体',
      '萝莉 色情',
      '萝莉 裸体',
      '恋童',
    ],
    allow: ['恋童年', '恋童话', '恋童趣', '恋童心'],
  },
  {
    id: 'sexual-violence',
    category: 'sexual-violence',
    description: { en: 'sexual violence', zh: '性暴力' },
    version: 2,
    terms: ['rape', 'raped', 'rapes', 'raping', 'rapist', 'rapists', 'gang rape', 'sexual assault', 'sexually assaulted', 'molest*', 'qiangjian', '强奸', '轮奸', '迷奸', '性侵', '弓虽女干', '猥亵儿童'],
    allow: ['rape field', 'rape fields', 'rape flower*', 'field of rape', 'fields of rape', 'oilseed rape', 'rape seed', 'rape oil'],
  },
  {
    id: 'non-consensual-intimate',
    category: 'non-consensual',
    description: { en: 'intimate imagery of real people without consent', zh: '未经同意的真实人物私密影像' },
    version: 2,
    terms: ['deepfake nude*', 'deepfake porn*', 'deepfake naked', 'revenge porn*', 'undress photo', 'nudify', 'nudified', 'upskirt', 'downblouse', 'hidden camera nude*', 'hidden camera shower', 'spy cam shower', '换脸色情', '换脸 裸体', '偷拍 裸照', '偷拍 裙底', '偷拍 洗澡', '一键脱衣', '脱衣软件', '裙底'],
  },
  {
    id: 'graphic-violence',
    category: 'violence',
    description: { en: 'graphic gore or mutilation', zh: '血腥、肢解等残忍画面' },
    version: 1,
    terms: ['dismember*', 'disembowel*', 'mutilated corpse', 'mutilated body', 'severed head', 'torture porn', 'gore porn', 'guro', '肢解', '碎尸', '开膛破肚', '血腥虐杀', '虐杀'],
  },
  {
    id: 'terrorism',
    category: 'extremism',
    description: { en: 'terrorist propaganda or graphic executions', zh: '恐怖主义宣传或血腥处决画面' },
    version: 2,
    terms: ['behead*', 'decapitation video', 'execution video', 'isis propaganda', 'isis recruitment', 'jihadi propaganda', 'terrorist propaganda', 'terrorist recruitment', 'terrorist recruiting', 'terror attack glorif*', '斩首', '恐怖主义 宣传', '恐怖分子 招募', '圣战 宣传', '处决视频'],
  },
  {
    id: 'self-harm',
    category: 'self-harm',
    description: { en: 'encouragement of self-harm', zh: '鼓励自我伤害' },
    version: 2,
    terms: ['kill myself', 'killing myself', 'suicide instructions', 'suicide method', 'suicide methods', 'suicide guide', 'suicide tutorial', 'how to commit suicide', 'self harm tutorial', 'self harm guide', 'how to self harm', 'how to cut myself', '自杀方法', '自杀教程', '如何自杀', '怎么自杀', '自残教程', '怎么自残', '割腕教程'],
  },
  {
    id: 'hate-speech',
    category: 'hate',
    description: { en: 'slurs or hateful propaganda against a group', zh: '针对群体的蔑称或仇恨宣传' },
    version: 1,
    terms: ['nigger', 'niggers', 'kike', 'kikes', 'spic', 'spics', 'chink', 'chinks', 'gas the jews', 'heil hitler', 'white genocide', 'nazi propaganda', '支那', '黑鬼', '纳粹宣传', '种族清洗宣传'],
    allow: ['chink in', 'chink of', 'chinks in', 'chinks of', 'spic and span', '印度支那'],
  },
  {
    id: 'sexual-explicit',
    category: 'sexual',
    description: { en: 'nudity or sexually explicit content', zh: '裸露或露骨的色情内容' },
    version: 1,
    terms: [
      'porn',
      'porno',
      'porns',
      'pornograph*',
      'pron',
      'hentai',
      'nude',
      'nudes',
      'nudity',
      'naked',
      'nsfw',
      'xxx',
      'topless',
      'having sex',
      'sex scene',
      'sex act',
      'sex tape',
      'oral sex',
      'anal sex',
      'sexual intercourse',
      'blowjob',
      'handjob',
      'cock',
      'cocks',
      'cunt',
      'pussy',
      'penis',
      'vagina',
      'genitals',
      'genitalia',
      'orgasm',
      'masturbat*',
      'bare ass',
      'seqing',
      '色情',
      '裸体',
      '裸照',
      '全裸',
      '做爱',
      '性交',
      '口交',
      '黄图',
      '淫秽',
      '露点',
      '阴道',
      '阴茎',
      '自慰',
    ],
    allow: [
      'nude lipstick',
      'nude lip',
      'nude lips',
      'nude color',
      'nude colour',
      'nude colored',
      'nude coloured',
      'nude tone',
      'nude tones',
      'nude makeup',
      'nude heels',
      'nude shoes',
      'nude nails',
      'nude nail',
      'nude palette',
      'nude beige',
      'nude pink',
      'naked eye',
      'naked eyes',
      'naked flame',
      'naked truth',
      'naked tree',
      'naked trees',
      'naked mole*',
      'naked cake',
      'naked cakes',
      'naked ladies flower*',
      'pussy willow',
      'pussy willows',
      'cock crow*',
      'cock a doodle*',
      'weather cock',
      'pussy cat',
      'pussy cats',
      // 颜色, 景色, 特色… followed by 情 (情调, 情人节): the 色 belongs to the word before.
      ...[...'颜景特夜月暮红橙绿青蓝紫黑白灰金银粉棕本角出神湖山秋春'].map((c) => `${c}色情`),
      '露点温度',
      '露点仪',
      '露点计',
      // 异性交友, 个性交流, 理性交谈…: 性 ends the word before.
      ...[...'异个两同理感线属惯弹'].map((c) => `${c}性交`),
    ],
  },
];
