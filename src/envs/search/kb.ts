/**
 * A seeded knowledge base of fictional entities, written out as encyclopedia-style articles, and multi-hop
 * questions over it with exact ground truth. Pure TypeScript (no database): `search/` indexes the articles,
 * and other consumers (the `web/wiki` site, warm-start data) read the same structures.
 *
 * Stable API (a given `{ seed, size, distractors }` always yields the same knowledge base, and a given
 * question seed the same question; a change to either is a new generator version, see `KB_VERSION`):
 *
 *   const kb = generateKnowledgeBase({ seed: 0, size: 2000, distractors: 0.3 });
 *   kb.entities[0]   // { id: 'person-0', kind: 'person', name, attributes, relations, twinOf? }
 *   kb.articles[0]   // { id: 'person-0', title, text, links: ['place-3', ...] }
 *   const q = generateQuestion(kb, { seed: 7, hops: 3 });
 *   q.question       // 'In which city was the founder of the employer of Mira Halvorsen born?'
 *   q.answers        // ['Ravenport']
 *   q.supporting     // ['person-12', 'organisation-4', 'person-9'] in reading order
 *
 * Entities come in four kinds with functional relations (each entity has exactly one value per relation, so
 * every chain has one answer):
 *
 *   person:        birthplace -> place, employer -> organisation; attributes born (year), occupation
 *   organisation:  founder -> person, headquarters -> place;      attributes founded (year), industry
 *   work:          creator -> person, publisher -> organisation;  attributes year, form
 *   place:         mayor -> person;                               attributes country, founded (year)
 *
 * Distractors: with probability `distractors` a new entity is a near twin of an earlier one of its kind (a
 * similar name: one name part changed) with its own, different facts; each article of a twin pair says "Not
 * to be confused with ..." and states the other's facts, so a lazy single search often lands on the wrong
 * entity or the wrong sentence.
 */
import { TurngymError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';

/** Bumped whenever the same options would yield a different knowledge base or question. */
export const KB_VERSION = 1;

export type EntityKind = 'person' | 'place' | 'organisation' | 'work';

export interface Entity {
  /** `${kind}-${n}`, e.g. `person-12`; also the id of the entity's article. */
  id: string;
  kind: EntityKind;
  /** Unique across the knowledge base. */
  name: string;
  /** Facts that end a question (years, occupation, country, ...), as the answer text. */
  attributes: Record<string, string>;
  /** Relation name -> id of the related entity (see the table above). */
  relations: Record<string, string>;
  /** For a distractor: the id of the earlier entity whose name it resembles. */
  twinOf?: string;
  /** Pronoun used in the article (`she`, `he`, `it`). */
  pronoun: 'she' | 'he' | 'it';
}

/** One encyclopedia article per entity. */
export interface Article {
  /** Same as the entity's id. */
  id: string;
  /** The entity's name. */
  title: string;
  /** Plain text, a few sentences to a few paragraphs. */
  text: string;
  /** Ids of the other entities named in `text`, in order of first mention (no duplicates). */
  links: string[];
}

export interface KnowledgeBaseOptions {
  /** Seed of the whole knowledge base. Default 0. */
  seed?: number;
  /** Number of entities (= articles), 40 to 200,000. Default 1000. */
  size?: number;
  /** Distractor density in [0, 1]: the probability that an entity is a similar-named twin. Default 0.3. */
  distractors?: number;
}

export interface KnowledgeBase {
  seed: number;
  size: number;
  distractors: number;
  entities: Entity[];
  articles: Article[];
  /** Entity by id. */
  byId: Map<string, Entity>;
}

/** A multi-hop question with its ground truth. */
export interface Question {
  question: string;
  /** Accepted answers (the first is the canonical one; the task's `answer`). */
  answers: string[];
  /** Number of articles that must be read: 1 to 4. */
  hops: number;
  /** What the last article is asked for, as `kind.field` (e.g. `person.birthplace`). */
  asks: string;
  /** Ids of the supporting articles, in the order they must be read. */
  supporting: string[];
  /**
   * The reasoning chain: for each supporting article, the entity and the relation or attribute read there
   * (`relation` leads to the next entity; the last step's `field` gives the answer).
   */
  chain: { entity: string; name: string; field: string }[];
}

export const MIN_KB_SIZE = 40;
export const MAX_KB_SIZE = 200_000;
/**
 * The largest knowledge base a client of `turngym serve` (agent or trainer) may ask for: it builds in about 0.3 s
 * on one core (a new one blocks the server's event loop that long) and its index takes about 5 MB of disk.
 */
export const REMOTE_MAX_KB_SIZE = 5000;
/** Most worlds in a pool of search/multihop-v0 (kwarg `worlds`); a world there has at most REMOTE_MAX_KB_SIZE articles. */
export const MAX_WORLDS = 1_000_000;

/** Relations per kind: relation name -> target kind. */
export const RELATIONS: Record<EntityKind, Record<string, EntityKind>> = {
  person: { birthplace: 'place', employer: 'organisation' },
  organisation: { founder: 'person', headquarters: 'place' },
  work: { creator: 'person', publisher: 'organisation' },
  place: { mayor: 'person' },
};

/** Attributes per kind. */
export const ATTRIBUTES: Record<EntityKind, string[]> = {
  person: ['born', 'occupation'],
  organisation: ['founded', 'industry'],
  work: ['year', 'form'],
  place: ['country', 'founded'],
};

/** Generates the knowledge base for `options` (deterministic). A few seconds per 100,000 entities. */
export function generateKnowledgeBase(options: KnowledgeBaseOptions = {}): KnowledgeBase {
  const seed = options.seed ?? 0;
  const size = options.size ?? 1000;
  const distractors = options.distractors ?? 0.3;
  if (!Number.isSafeInteger(seed))
    throw new RangeError(`generateKnowledgeBase: seed must be a safe integer, got ${seed}`);
  if (!Number.isInteger(size) || size < MIN_KB_SIZE || size > MAX_KB_SIZE) {
    throw new RangeError(
      `generateKnowledgeBase: size must be an integer from ${MIN_KB_SIZE} to ${MAX_KB_SIZE}, got ${size}`,
    );
  }
  if (!(distractors >= 0 && distractors <= 1)) {
    throw new RangeError(`generateKnowledgeBase: distractors must be a number from 0 to 1, got ${distractors}`);
  }
  const rng = Rng.fromSeed(seed ^ 0x2545f491);
  const names = new Set<string>();
  const entities: Entity[] = [];
  const byKind: Record<EntityKind, Entity[]> = { person: [], place: [], organisation: [], work: [] };
  const parts = new Map<string, string[]>();
  const counts: Record<EntityKind, number> = { person: 0, place: 0, organisation: 0, work: 0 };

  // Every kind appears early, so that small knowledge bases still have every relation's target.
  const kinds = (index: number): EntityKind =>
    index < 4 ? (['person', 'place', 'organisation', 'work'] as const)[index]! : pickKind(rng);
  for (let index = 0; index < size; index++) {
    const kind = kinds(index);
    const earlier = byKind[kind];
    let name: string | undefined;
    let nameParts: string[] | undefined;
    let twinOf: string | undefined;
    if (earlier.length > 0 && rng.chance(distractors)) {
      const original = rng.pick(earlier);
      for (let attempt = 0; attempt < 8 && name === undefined; attempt++) {
        const candidate = twinParts(kind, parts.get(original.id)!, rng);
        const text = joinName(kind, candidate);
        if (!names.has(text)) {
          name = text;
          nameParts = candidate;
          twinOf = original.id;
        }
      }
    }
    for (let attempt = 0; name === undefined; attempt++) {
      const candidate = freshParts(kind, rng, attempt);
      const text = joinName(kind, candidate);
      if (!names.has(text)) {
        name = text;
        nameParts = candidate;
      }
    }
    names.add(name);
    const id = `${kind}-${counts[kind]++}`;
    parts.set(id, nameParts!);
    const pronoun = kind === 'person' ? (FEMALE.has(nameParts![0]!) ? 'she' : 'he') : 'it';
    const entity: Entity = {
      id,
      kind,
      name,
      attributes: attributesFor(kind, rng),
      relations: {},
      pronoun,
      ...(twinOf ? { twinOf } : {}),
    };
    entities.push(entity);
    earlier.push(entity);
  }

  // Relations point anywhere in the knowledge base (never to the entity itself).
  for (const entity of entities) {
    for (const [relation, targetKind] of Object.entries(RELATIONS[entity.kind])) {
      const pool = byKind[targetKind];
      let target = rng.pick(pool);
      if (target === entity && pool.length > 1) target = pool[(pool.indexOf(target) + 1) % pool.length]!;
      entity.relations[relation] = target.id;
    }
  }

  const byId = new Map(entities.map((entity) => [entity.id, entity]));
  const reverse = reverseIndex(entities);
  const articles = entities.map((entity) => writeArticle(entity, byId, reverse, rng));
  return { seed, size, distractors, entities, articles, byId };
}

export interface QuestionOptions {
  /** Seed of this question; the same knowledge base and seed give the same question. */
  seed: number;
  /** Number of articles to read, 1 to 4. */
  hops: number;
}

/**
 * A multi-hop question: a random entity named in the question, `hops - 1` relations followed from it
 * (never revisiting an entity), and a final relation or attribute whose value is the answer. The answer
 * never appears in the question.
 */
export function generateQuestion(kb: KnowledgeBase, options: QuestionOptions): Question {
  const { hops } = options;
  if (!Number.isInteger(hops) || hops < 1 || hops > 4)
    throw new RangeError(`generateQuestion: hops must be an integer from 1 to 4, got ${hops}`);
  const rng = Rng.fromSeed(options.seed);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const question = tryQuestion(kb, rng, hops);
    if (question) return question;
  }
  throw new TurngymError(
    'INVALID_KWARGS',
    `generateQuestion: found no ${hops}-hop question in the knowledge base (seed ${kb.seed}, size ${kb.size}); a larger knowledge base has more.`,
  );
}

function tryQuestion(kb: KnowledgeBase, rng: Rng, hops: number): Question | undefined {
  const start = rng.pick(kb.entities);
  const path: Entity[] = [start];
  const relations: string[] = [];
  for (let hop = 1; hop < hops; hop++) {
    const current = path[path.length - 1]!;
    const relation = rng.pick(Object.keys(RELATIONS[current.kind]));
    const next = kb.byId.get(current.relations[relation]!)!;
    if (path.includes(next)) return undefined;
    path.push(next);
    relations.push(relation);
  }
  const last = path[path.length - 1]!;
  const fields = [...Object.keys(RELATIONS[last.kind]), ...ATTRIBUTES[last.kind]];
  const field = rng.pick(fields);
  const isRelation = field in RELATIONS[last.kind];
  let answer: string;
  if (isRelation) {
    const target = kb.byId.get(last.relations[field]!)!;
    if (path.includes(target)) return undefined;
    answer = target.name;
  } else {
    answer = last.attributes[field]!;
  }
  // The question names the start entity and wraps it in one noun phrase per relation followed.
  let phrase = start.name;
  relations.forEach((relation) => {
    phrase = NOUN_PHRASES[relation]!(phrase);
  });
  const question = FINAL_QUESTIONS[`${last.kind}.${field}`]!(phrase);
  if (containsAnswer(question, answer)) return undefined;
  return {
    question,
    answers: [answer],
    hops,
    asks: `${last.kind}.${field}`,
    supporting: path.map((entity) => entity.id),
    chain: path.map((entity, index) => ({
      entity: entity.id,
      name: entity.name,
      field: index < relations.length ? relations[index]! : field,
    })),
  };
}

/** True when the answer's words appear, in order, in the text (after lower-casing and dropping punctuation). */
function containsAnswer(text: string, answer: string): boolean {
  const words = (value: string) =>
    ` ${value
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, ' ')
      .trim()} `;
  return words(text).includes(words(answer));
}

const NOUN_PHRASES: Record<string, (inner: string) => string> = {
  birthplace: (x) => `the birthplace of ${x}`,
  employer: (x) => `the employer of ${x}`,
  founder: (x) => `the founder of ${x}`,
  headquarters: (x) => `the city where ${x} is headquartered`,
  creator: (x) => `the creator of ${x}`,
  publisher: (x) => `the publisher of ${x}`,
  mayor: (x) => `the mayor of ${x}`,
};

const FINAL_QUESTIONS: Record<string, (subject: string) => string> = {
  'person.birthplace': (x) => `In which city was ${x} born?`,
  'person.employer': (x) => `Which organisation employs ${x}?`,
  'person.born': (x) => `In which year was ${x} born?`,
  'person.occupation': (x) => `What is the occupation of ${x}?`,
  'organisation.founder': (x) => `Who founded ${x}?`,
  'organisation.headquarters': (x) => `In which city is ${x} headquartered?`,
  'organisation.founded': (x) => `In which year was ${x} founded?`,
  'organisation.industry': (x) => `In which industry does ${x} operate?`,
  'work.creator': (x) => `Who created ${x}?`,
  'work.publisher': (x) => `Which organisation released ${x}?`,
  'work.year': (x) => `In which year was ${x} first released?`,
  'work.form': (x) => `What kind of work is ${x}?`,
  'place.mayor': (x) => `Who is the mayor of ${x}?`,
  'place.country': (x) => `In which country is ${x}?`,
  'place.founded': (x) => `In which year was ${x} founded?`,
};

// ---------------------------------------------------------------------------------------------------------
// Names

const FEMALE_NAMES = [
  'Ada',
  'Agnes',
  'Alma',
  'Anya',
  'Astrid',
  'Beatrix',
  'Clara',
  'Dagny',
  'Edith',
  'Elena',
  'Elsa',
  'Freya',
  'Greta',
  'Hedda',
  'Ilse',
  'Ingrid',
  'Iris',
  'Johanna',
  'Karin',
  'Lena',
  'Liv',
  'Lotte',
  'Maren',
  'Marta',
  'Mira',
  'Nadia',
  'Nora',
  'Oda',
  'Petra',
  'Rosa',
  'Sigrid',
  'Solveig',
  'Tilde',
  'Vera',
  'Wilma',
  'Yara',
];
const MALE_NAMES = [
  'Aksel',
  'Anton',
  'Arne',
  'Bruno',
  'Casimir',
  'Dmitri',
  'Edvard',
  'Emil',
  'Felix',
  'Gustav',
  'Halvard',
  'Ivo',
  'Jakob',
  'Jonas',
  'Karl',
  'Leif',
  'Lorenz',
  'Magnus',
  'Matthias',
  'Nils',
  'Oskar',
  'Otto',
  'Pavel',
  'Rainer',
  'Rasmus',
  'Sten',
  'Tobias',
  'Ulrik',
  'Viktor',
  'Wendel',
];
const FEMALE = new Set(FEMALE_NAMES);
const FIRST_NAMES = [...FEMALE_NAMES, ...MALE_NAMES];
const SURNAME_HEADS = [
  'Har',
  'Lind',
  'Ost',
  'Vel',
  'Mar',
  'Bren',
  'Cal',
  'Dor',
  'Fen',
  'Gal',
  'Hol',
  'Kes',
  'Lor',
  'Mor',
  'Nor',
  'Pel',
  'Quin',
  'Ros',
  'Sel',
  'Tor',
  'Val',
  'Wes',
  'Yar',
  'Zel',
  'Ash',
  'Bel',
  'Cor',
  'Dal',
  'Eld',
  'Fal',
  'Grim',
  'Hal',
];
const SURNAME_MIDDLES = ['', 'a', 'e', 'i', 'o', 'en', 'an', 'er'];
const SURNAME_TAILS = [
  'low',
  'wick',
  'ton',
  'berg',
  'sen',
  'ley',
  'mont',
  'by',
  'field',
  'more',
  'dale',
  'ford',
  'stein',
  'vik',
  'holm',
  'ridge',
  'gard',
  'strom',
];
const PLACE_MODIFIERS = [
  '',
  '',
  '',
  '',
  'New ',
  'Upper ',
  'Lower ',
  'North ',
  'South ',
  'East ',
  'West ',
  'Port ',
  'Saint ',
];
const PLACE_HEADS = [
  'Ast',
  'Bry',
  'Cael',
  'Drum',
  'Eld',
  'Frost',
  'Glen',
  'Hav',
  'Isl',
  'Jor',
  'Kald',
  'Lun',
  'Mist',
  'Nev',
  'Orm',
  'Pry',
  'Rav',
  'Sund',
  'Thal',
  'Ul',
  'Vard',
  'Wyn',
  'Brae',
  'Cor',
  'Dun',
  'Fair',
  'Gold',
  'Kil',
  'Ash',
  'Bel',
  'Cran',
  'Hart',
  'Lam',
  'Mel',
  'Pen',
  'Stow',
];
const PLACE_MIDDLES = ['', 'a', 'er', 'en', 'o', 'ing'];
const PLACE_TAILS = [
  'haven',
  'port',
  'mouth',
  'burg',
  'grad',
  'stad',
  'field',
  'bridge',
  'crest',
  'wick',
  'ton',
  'vale',
  'moor',
  'fell',
  'heim',
  'ness',
  'by',
  'minster',
  'hollow',
  'reach',
  'gate',
  'stead',
  'marsh',
  'combe',
  'holt',
  'shore',
];
const ORGANISATION_FORMS = [
  'Company',
  'Group',
  'Works',
  'Corporation',
  'Holdings',
  'Trust',
  'Cooperative',
  'Institute',
  'Foundation',
  'Society',
  'Partners',
  'Guild',
];
const WORK_ADJECTIVES = [
  'Silent',
  'Golden',
  'Broken',
  'Hidden',
  'Distant',
  'Last',
  'Crimson',
  'Winter',
  'Quiet',
  'Burning',
  'Lost',
  'Pale',
  'Hollow',
  'Bright',
  'Iron',
  'Velvet',
  'Northern',
  'Forgotten',
  'Endless',
  'Wandering',
  'Glass',
  'Sleeping',
  'Restless',
  'Amber',
  'Scarlet',
  'Frozen',
  'Tender',
  'Wild',
  'Secret',
  'Falling',
  'Ancient',
  'Bitter',
  'Gentle',
  'Hungry',
  'Painted',
  'Narrow',
  'Drowned',
  'Salt',
  'Copper',
  'Morning',
  'Evening',
  'Weeping',
  'Luminous',
  'Shifting',
  'Stolen',
  'Borrowed',
  'Patient',
  'Sunken',
];
const WORK_NOUNS = [
  'Harbour',
  'Garden',
  'Mirror',
  'Orchard',
  'Lantern',
  'Meridian',
  'Tide',
  'Citadel',
  'Archive',
  'Compass',
  'Bell',
  'River',
  'Crown',
  'Sparrow',
  'Lighthouse',
  'Horizon',
  'Letter',
  'Tower',
  'Forest',
  'Voyage',
  'Island',
  'Season',
  'Signal',
  'Bridge',
  'Shadow',
  'Feather',
  'Window',
  'Anthem',
  'Orbit',
  'Kingdom',
  'Threshold',
  'Ember',
  'Cathedral',
  'Mountain',
  'Valley',
  'Lake',
  'Winter',
  'Chorus',
  'Prophecy',
  'Engine',
  'Atlas',
  'Carnival',
  'Labyrinth',
  'Quarry',
  'Pilgrim',
  'Monsoon',
  'Glacier',
  'Canal',
];
const OCCUPATIONS = [
  'engineer',
  'painter',
  'novelist',
  'architect',
  'chemist',
  'cartographer',
  'composer',
  'physician',
  'astronomer',
  'journalist',
  'sculptor',
  'botanist',
  'lawyer',
  'economist',
  'photographer',
  'historian',
  'mathematician',
  'linguist',
  'pilot',
  'geologist',
  'film director',
  'marine biologist',
  'stage actor',
  'civil servant',
];
const INDUSTRIES = [
  'shipping',
  'mining',
  'textiles',
  'publishing',
  'railways',
  'insurance',
  'brewing',
  'optics',
  'software',
  'pharmaceuticals',
  'aviation',
  'banking',
  'steel',
  'glassmaking',
  'timber',
  'shipbuilding',
  'telecommunications',
  'chemicals',
  'ceramics',
  'robotics',
  'agriculture',
  'broadcasting',
];
const WORK_FORMS = [
  'novel',
  'film',
  'album',
  'opera',
  'painting',
  'play',
  'poetry collection',
  'symphony',
  'documentary',
];
const COUNTRIES = [
  'Norvale',
  'Estmark',
  'Calderon',
  'Vesterlund',
  'Orsenia',
  'Brightwater',
  'Kaldoria',
  'Lysmere',
  'Tavaria',
  'Quellan',
  'Serandor',
  'Umbria Nova',
  'Ardent Isles',
  'Mirrowen',
  'Dravenia',
  'Solmark',
  'Pellinor',
  'Zarvosk',
];

const KIND_WEIGHTS: [EntityKind, number][] = [
  ['person', 0.42],
  ['place', 0.1],
  ['organisation', 0.2],
  ['work', 0.28],
];

function pickKind(rng: Rng): EntityKind {
  let roll = rng.float();
  for (const [kind, weight] of KIND_WEIGHTS) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'work';
}

/** Name parts of a new entity. `attempt` widens the choice when a name was already taken. */
function freshParts(kind: EntityKind, rng: Rng, attempt: number): string[] {
  switch (kind) {
    case 'person':
      return [
        rng.pick(FIRST_NAMES),
        rng.pick(SURNAME_HEADS),
        rng.pick(SURNAME_MIDDLES),
        rng.pick(SURNAME_TAILS),
        attempt > 20 ? `${String.fromCharCode(65 + rng.int(0, 25))}.` : '',
      ];
    case 'place':
      return [
        attempt > 20 ? rng.pick(PLACE_MODIFIERS.filter(Boolean)) : rng.pick(PLACE_MODIFIERS),
        rng.pick(PLACE_HEADS),
        rng.pick(PLACE_MIDDLES),
        rng.pick(PLACE_TAILS),
      ];
    case 'organisation':
      return rng.chance(0.5) && attempt < 10
        ? [
            rng.pick(SURNAME_HEADS) + rng.pick(SURNAME_MIDDLES) + rng.pick(SURNAME_TAILS),
            '',
            rng.pick(ORGANISATION_FORMS),
          ]
        : [
            rng.pick(SURNAME_HEADS) + rng.pick(SURNAME_MIDDLES) + rng.pick(SURNAME_TAILS),
            rng.pick(SURNAME_HEADS) + rng.pick(SURNAME_TAILS),
            rng.pick(ORGANISATION_FORMS),
          ];
    case 'work':
      if (rng.chance(0.2) && attempt < 3) return ['', rng.pick(WORK_ADJECTIVES), rng.pick(WORK_NOUNS)];
      // Past a few collisions, two nouns before "of" make the name space large enough for any size.
      return [
        attempt > 10 ? `${rng.pick(WORK_NOUNS)} and ${rng.pick(WORK_NOUNS)}` : rng.pick(WORK_NOUNS),
        rng.pick(WORK_ADJECTIVES),
        rng.pick(WORK_NOUNS),
      ];
  }
}

/** A similar name: the same parts with one changed. */
function twinParts(kind: EntityKind, original: string[], rng: Rng): string[] {
  const copy = [...original];
  switch (kind) {
    case 'person': {
      const which = rng.int(0, 3);
      if (which === 0) copy[0] = rng.pick(FIRST_NAMES);
      else if (which === 1) copy[1] = rng.pick(SURNAME_HEADS);
      else if (which === 2) copy[2] = rng.pick(SURNAME_MIDDLES);
      else copy[3] = rng.pick(SURNAME_TAILS);
      break;
    }
    case 'place':
      if (rng.chance(0.5)) copy[0] = rng.pick(PLACE_MODIFIERS);
      else copy[3] = rng.pick(PLACE_TAILS);
      break;
    case 'organisation':
      copy[2] = rng.pick(ORGANISATION_FORMS);
      break;
    case 'work':
      if (rng.chance(0.5)) copy[1] = rng.pick(WORK_ADJECTIVES);
      else copy[2] = rng.pick(WORK_NOUNS);
      break;
  }
  return copy;
}

function joinName(kind: EntityKind, parts: string[]): string {
  switch (kind) {
    case 'person':
      return parts[4]
        ? `${parts[0]} ${parts[4]} ${parts[1]}${parts[2]}${parts[3]}`
        : `${parts[0]} ${parts[1]}${parts[2]}${parts[3]}`;
    case 'place':
      return `${parts[0]}${parts[1]}${parts[2]}${parts[3]}`;
    case 'organisation':
      return parts[1] ? `${parts[0]} & ${parts[1]} ${parts[2]}` : `${parts[0]} ${parts[2]}`;
    case 'work':
      return parts[0] ? `${parts[0]} of the ${parts[1]} ${parts[2]}` : `The ${parts[1]} ${parts[2]}`;
  }
}

function attributesFor(kind: EntityKind, rng: Rng): Record<string, string> {
  switch (kind) {
    case 'person':
      return { born: String(rng.int(1850, 2000)), occupation: rng.pick(OCCUPATIONS) };
    case 'organisation':
      return { founded: String(rng.int(1780, 2015)), industry: rng.pick(INDUSTRIES) };
    case 'work':
      return { year: String(rng.int(1870, 2020)), form: rng.pick(WORK_FORMS) };
    case 'place':
      return { country: rng.pick(COUNTRIES), founded: String(rng.int(900, 1900)) };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Articles

type Reverse = Map<string, Map<string, string[]>>;

/**
 * For each entity: relation -> ids of the entities that point at it (to mention them, as real articles do).
 * The pseudo-relation `twinOf` lists the entity's similar-named twins.
 */
function reverseIndex(entities: readonly Entity[]): Reverse {
  const reverse: Reverse = new Map();
  for (const entity of entities) {
    if (entity.twinOf) add(reverse, entity.twinOf, 'twinOf', entity.id);
    for (const [relation, target] of Object.entries(entity.relations)) add(reverse, target, relation, entity.id);
  }
  return reverse;
}

function add(reverse: Reverse, target: string, relation: string, source: string): void {
  let byRelation = reverse.get(target);
  if (!byRelation) reverse.set(target, (byRelation = new Map()));
  let sources = byRelation.get(relation);
  if (!sources) byRelation.set(relation, (sources = []));
  sources.push(source);
}

const FILLER = [
  'Records from the period are incomplete, and several early accounts disagree on minor details.',
  'A number of letters and photographs from these years are kept in public archives.',
  'Local newspapers reported on this at length at the time.',
  'Later historians have described this period as one of steady growth.',
  'The subject has appeared in several exhibitions and retrospectives.',
  'Much of what is known comes from interviews given many years later.',
  'Some sources give different dates, but the figures here follow the most widely cited accounts.',
  'Critics have returned to this subject repeatedly over the following decades.',
  'A short documentary about this was broadcast on national television.',
  'The details are summarised in most standard reference works.',
  'Contemporaries often remarked on the unusual combination of ambition and patience involved.',
  'An annual lecture series now commemorates this history.',
];

function writeArticle(entity: Entity, byId: Map<string, Entity>, reverse: Reverse, rng: Rng): Article {
  const links: string[] = [];
  const name = (id: string) => {
    if (!links.includes(id)) links.push(id);
    return byId.get(id)!.name;
  };
  const incoming = (relation: string, limit: number) =>
    (reverse.get(entity.id)?.get(relation) ?? []).slice(0, limit).map(name);
  const they = capitalise(entity.pronoun);
  const { attributes: a, relations: r } = entity;
  const sentences: string[] = [];
  switch (entity.kind) {
    case 'person': {
      const birthplace = name(r.birthplace!);
      sentences.push(
        rng.pick([
          `${entity.name} (born ${a.born}) is ${article(a.occupation!)} ${a.occupation}. ${they} was born in ${birthplace}.`,
          `${entity.name} is ${article(a.occupation!)} ${a.occupation} who was born in ${birthplace} in ${a.born}.`,
          `Born in ${birthplace} in ${a.born}, ${entity.name} is ${article(a.occupation!)} ${a.occupation}.`,
        ]),
      );
      const employer = name(r.employer!);
      sentences.push(
        rng.pick([
          `${they} works for ${employer}.`,
          `${entity.name} is employed by ${employer}.`,
          `${they} has worked at ${employer} for many years.`,
        ]),
      );
      const founded = incoming('founder', 2);
      if (founded.length) sentences.push(`${they} founded ${list(founded)}.`);
      const works = incoming('creator', 3);
      if (works.length) sentences.push(`${possessive(entity.pronoun)} works include ${list(works)}.`);
      const mayorOf = incoming('mayor', 1);
      if (mayorOf.length) sentences.push(`${they} is the mayor of ${mayorOf[0]}.`);
      break;
    }
    case 'organisation': {
      const founder = name(r.founder!);
      sentences.push(
        rng.pick([
          `${entity.name} is ${article(a.industry!)} ${a.industry} company founded in ${a.founded} by ${founder}.`,
          `Founded by ${founder} in ${a.founded}, ${entity.name} operates in the ${a.industry} industry.`,
        ]),
      );
      const headquarters = name(r.headquarters!);
      sentences.push(rng.pick([`It is headquartered in ${headquarters}.`, `Its headquarters are in ${headquarters}.`]));
      const staff = incoming('employer', 2);
      if (staff.length) sentences.push(`Its employees include ${list(staff)}.`);
      const releases = incoming('publisher', 2);
      if (releases.length) sentences.push(`It released ${list(releases)}.`);
      break;
    }
    case 'work': {
      const creator = name(r.creator!);
      sentences.push(
        rng.pick([
          `${entity.name} is ${article(a.form!)} ${a.form} by ${creator}, first released in ${a.year}.`,
          `${entity.name} is a ${a.year} ${a.form} created by ${creator}.`,
        ]),
      );
      const publisher = name(r.publisher!);
      sentences.push(rng.pick([`It was released by ${publisher}.`, `${publisher} released it.`]));
      break;
    }
    case 'place': {
      sentences.push(
        rng.pick([
          `${entity.name} is a city in ${a.country}, founded in ${a.founded}.`,
          `Founded in ${a.founded}, ${entity.name} is a city in ${a.country}.`,
        ]),
      );
      const mayor = name(r.mayor!);
      sentences.push(rng.pick([`Its mayor is ${mayor}.`, `${mayor} serves as the mayor of ${entity.name}.`]));
      const natives = incoming('birthplace', 3);
      if (natives.length) sentences.push(`People born in ${entity.name} include ${list(natives)}.`);
      const companies = incoming('headquarters', 2);
      if (companies.length)
        sentences.push(`${list(companies)} ${companies.length > 1 ? 'have their' : 'has its'} headquarters here.`);
      break;
    }
  }
  for (let i = rng.int(1, 3); i > 0; i--) sentences.push(rng.pick(FILLER));
  const twin = entity.twinOf ?? reverse.get(entity.id)?.get('twinOf')?.[0];
  if (twin) sentences.push(confusedWith(byId.get(twin)!, name, byId));
  const text = sentences.join(' ');
  return { id: entity.id, title: entity.name, text, links };
}

/** "Not to be confused with ...": the twin's own, different facts (a conflicting-looking distractor). */
function confusedWith(twin: Entity, name: (id: string) => string, byId: Map<string, Entity>): string {
  const twinName = name(twin.id);
  const target = (relation: string) => byId.get(twin.relations[relation]!)!.name;
  switch (twin.kind) {
    case 'person':
      return `Not to be confused with ${twinName}, ${article(twin.attributes.occupation!)} ${twin.attributes.occupation} born in ${target('birthplace')} in ${twin.attributes.born}.`;
    case 'organisation':
      return `Not to be confused with ${twinName}, founded in ${twin.attributes.founded} by ${target('founder')}.`;
    case 'work':
      return `Not to be confused with ${twinName}, ${article(twin.attributes.form!)} ${twin.attributes.form} by ${target('creator')} from ${twin.attributes.year}.`;
    case 'place':
      return `Not to be confused with ${twinName}, a city in ${twin.attributes.country}.`;
  }
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

function capitalise(word: string): string {
  return word[0]!.toUpperCase() + word.slice(1);
}

function possessive(pronoun: Entity['pronoun']): string {
  return pronoun === 'she' ? 'Her' : pronoun === 'he' ? 'His' : 'Its';
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
