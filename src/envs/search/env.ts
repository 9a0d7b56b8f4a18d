/**
 * The search environments: an agent answers a question with `search(query, k?)`, `open(id, page?)` and
 * `answer(text)` over a corpus indexed with SQLite FTS5 (see engine.ts). Task suites: multi-hop questions
 * over a generated knowledge base (kb.ts), or a user's questions over a user's documents (corpus.ts).
 */
import type { EnvSpec, Oracle, StepResult, ToolCall } from '../env.js';
import { type Task, TaskEnv, type TaskSuite, type Verdict } from '../task.js';
import { type Rng } from '../../core/rng.js';
import { InvalidKwargsError, ToolInputError } from '../../core/errors.js';
import { type Lease, leaseGeneratedCorpus, leaseUserCorpus, leaseWorld, type UserQuestion } from './corpus.js';
import { type Fts5Retriever, QueryError, type SearchHit, SNIPPET_CHARS } from './engine.js';
import { generateKnowledgeBase, generateQuestion, type KnowledgeBase, MAX_WORLDS, REMOTE_MAX_KB_SIZE } from './kb.js';
import { DEFAULT_RESULTS, searchTools } from './tools.js';
import { exactMatch, tokenF1 } from './verify.js';

/** A question to answer by searching. `answer` (from Task) is the canonical ground truth. */
export interface SearchTask extends Task {
  question: string;
  /** Every accepted answer (the first is `answer`). */
  answers: string[];
  /** Ids of the supporting documents, in reading order. */
  supporting: string[];
  /**
   * What the reference solution searches for before opening each supporting document (entity names for
   * generated tasks), and what it expects to read there before moving on.
   */
  plan: { query: string; id: string; expect: string }[];
  /** The world the question is about, when the env draws one per episode (kwarg `worlds`). */
  world?: { seed: number; kb: KnowledgeBase };
}

/** How a final answer is rewarded: token F1 (partial credit) or exact match. Success is always exact match. */
export type RewardMode = 'f1' | 'exact';

function verdict(task: SearchTask, submission: string, reward: RewardMode): Verdict {
  const exact = exactMatch(submission, task.answers);
  const f1 = tokenF1(submission, task.answers);
  return {
    score: reward === 'exact' ? exact : f1,
    success: exact === 1,
    feedback: exact === 1 ? 'It is correct.' : `It is not correct (token F1 ${f1.toFixed(2)}).`,
  };
}

/**
 * The task an agent reads. The tools are not listed here: every agent gets them with the env's spec (a policy's
 * context starts with them, an LLM agent's request carries them), as in every other env, and a second copy
 * cost a small policy's context about 150 tokens an episode.
 */
function prompt(question: string, documentCount: number): string {
  return [
    `Answer the question by searching a collection of ${documentCount} documents.`,
    `Question: ${question}`,
    'Give the final answer as a short phrase (a name, a year, a word).',
  ].join('\n');
}

/** Multi-hop questions over a generated knowledge base; difficulty = hops (1 to 4). */
export function multihopSuite(kb: KnowledgeBase, reward: RewardMode): TaskSuite<SearchTask, string> {
  return {
    difficulties: [1, 4],
    generate: (rng: Rng, difficulty: number) => multihopTask(kb, rng, difficulty),
    verify: (task, submission) => verdict(task, submission, reward),
    oracle: (task) => chainOracle(task),
    // The question the agent reads: a small knowledge base asks the same questions again and again, so a
    // held-out question must never be a training question (README, "Held-out split").
    splitKey: (task) => task.question,
  };
}

/** The seed of world `index` of the pool of worlds under `kbSeed` (kwarg `worlds`). */
export function worldSeed(kbSeed: number, index: number): number {
  return kbSeed * MAX_WORLDS + index;
}

/**
 * Generated worlds kept between episodes, at most {@link CACHED_WORLD_ARTICLES} articles in the process (drawing
 * for a split generates several, and a pool's worlds come round again), least recently used dropped first.
 */
const worldCache = new Map<string, { kb: KnowledgeBase; articles: number }>();
const CACHED_WORLD_ARTICLES = 20_000;
let cachedArticles = 0;

function cachedWorld(seed: number, size: number, distractors: number): KnowledgeBase {
  const key = `${seed}/${size}/${distractors}`;
  let entry = worldCache.get(key);
  if (entry) worldCache.delete(key);
  else {
    entry = { kb: generateKnowledgeBase({ seed, size, distractors }), articles: size };
    cachedArticles += size;
  }
  worldCache.set(key, entry);
  for (const [oldest, { articles }] of worldCache) {
    if (cachedArticles <= CACHED_WORLD_ARTICLES || oldest === key) break;
    worldCache.delete(oldest);
    cachedArticles -= articles;
  }
  return entry.kb;
}

/**
 * Multi-hop questions, each about a world of its own: the episode's seed draws one of `worlds` knowledge bases
 * (seeds {@link worldSeed}(kbSeed, 0 ..worlds - 1)), then a question about it. The split key is the world, so no
 * held-out world is ever a training world: a policy cannot pass held-out episodes by remembering a world.
 */
export function worldsSuite(
  options: { kbSeed: number; worlds: number; size: number; distractors: number },
  reward: RewardMode,
): TaskSuite<SearchTask, string> {
  return {
    difficulties: [1, 4],
    generate(rng: Rng, difficulty: number): SearchTask {
      const seed = worldSeed(options.kbSeed, rng.int(0, options.worlds - 1));
      const kb = cachedWorld(seed, options.size, options.distractors);
      return { ...multihopTask(kb, rng, difficulty), world: { seed, kb } };
    },
    verify: (task, submission) => verdict(task, submission, reward),
    oracle: (task) => chainOracle(task),
    splitKey: (task) => `world ${task.world!.seed}`,
  };
}

function multihopTask(kb: KnowledgeBase, rng: Rng, difficulty: number): SearchTask {
  const question = generateQuestion(kb, { seed: rng.seed(), hops: difficulty });
  const plan = question.chain.map((step, index) => ({
    query: step.name,
    id: step.entity,
    expect: index + 1 < question.chain.length ? question.chain[index + 1]!.name : question.answers[0]!,
  }));
  return {
    prompt: prompt(question.question, kb.articles.length),
    answer: question.answers[0]!,
    difficulty,
    kind: question.asks,
    question: question.question,
    answers: question.answers,
    supporting: question.supporting,
    plan,
  };
}

/**
 * The user's questions, one per episode (drawn by the reset seed); difficulty is not used. No split key: the
 * user decides which questions are for training and which for evaluation (one questions file for each).
 */
export function corpusSuite(
  questions: readonly UserQuestion[],
  documentCount: number,
  reward: RewardMode,
): TaskSuite<SearchTask, string> {
  return {
    difficulties: [1, 1],
    generate(rng: Rng, difficulty: number): SearchTask {
      const question = questions[rng.int(0, questions.length - 1)]!;
      const query = question.question.slice(0, 512);
      return {
        prompt: prompt(question.question, documentCount),
        answer: question.answers[0]!,
        difficulty,
        question: question.question,
        answers: question.answers,
        supporting: question.supporting,
        plan: question.supporting.map((id) => ({ query, id, expect: '' })),
      };
    },
    verify: (task, submission) => verdict(task, submission, reward),
    oracle: (task) => chainOracle(task),
  };
}

/**
 * The reference solution: for each supporting document, search for it as a careful person would (the
 * entity's name; if the document is not among the results, the name in quotes, then more results; no new
 * search when the last results already list it), open it, read on page by page until the expected fact
 * shows, and finally answer.
 */
function chainOracle(task: SearchTask): Oracle {
  const steps = task.plan;
  let hop = 0;
  let attempt = 0;
  let page = 1;
  let phase: 'search' | 'check' | 'read' = 'search';
  // The last results seen, so that a document already listed there is opened without searching again.
  let lastResults: { query: string; text: string } | undefined;
  const search = (): ToolCall => {
    const { query, id } = steps[hop]!;
    if (attempt === 0 && lastResults?.query === query && lastResults.text.includes(`[${id}]`)) {
      phase = 'read';
      return { tool: 'open', args: { id } };
    }
    phase = 'check';
    if (attempt === 0) return { tool: 'search', args: { query } };
    return { tool: 'search', args: { query: `"${query.replaceAll('"', ' ')}"`, k: attempt === 1 ? 10 : 20 } };
  };
  const advance = (): ToolCall => {
    hop++;
    attempt = 0;
    page = 1;
    if (hop >= steps.length) return { tool: 'answer', args: { text: task.answer } };
    return search();
  };
  return {
    next(observation) {
      if (hop >= steps.length) return { tool: 'answer', args: { text: task.answer } };
      const step = steps[hop]!;
      if (phase === 'search') return search();
      if (phase === 'check') {
        if (attempt === 0) lastResults = { query: step.query, text: observation.text };
        if (!observation.text.includes(`[${step.id}]`) && attempt < 2) {
          attempt++;
          return search();
        }
        phase = 'read';
        return { tool: 'open', args: { id: step.id } };
      }
      const more = /\(page (\d+) of (\d+)\)/.exec(observation.text);
      if (step.expect && !observation.text.includes(step.expect) && more && Number(more[1]) < Number(more[2])) {
        page++;
        return { tool: 'open', args: { id: step.id, page } };
      }
      return advance();
    },
  };
}

/** Settings shared by both search envs. */
export interface SearchEnvSettings {
  /** Characters per page of `open`. */
  pageChars: number;
  /** Results of a search that does not give `k` (default {@link DEFAULT_RESULTS}). */
  results?: number;
  /** Characters of a result's snippet (default {@link SNIPPET_CHARS}). */
  snippetChars?: number;
}

/** A search env over one leased corpus; closing it releases the lease. */
export class SearchEnv extends TaskEnv<SearchTask> {
  /** The corpus searched: the env's own, or the current episode's world (kwarg `worlds`). */
  private lease: Lease<unknown> | undefined;

  constructor(
    spec: EnvSpec,
    suite: TaskSuite<SearchTask, string>,
    difficulty: number,
    lease: Lease<unknown> | undefined,
    private readonly settings: SearchEnvSettings & { distractors?: number },
  ) {
    super(spec, suite, difficulty);
    this.lease = lease;
  }

  private get retriever(): Fts5Retriever {
    return this.lease!.corpus.retriever;
  }

  /** With `worlds`, leases the episode's world (releasing the last one's); `info.world` is its seed. */
  protected override async startEpisode(task: SearchTask): Promise<{ info?: Record<string, unknown> }> {
    if (task.world) {
      const previous = this.lease;
      this.lease = leaseWorld(task.world.kb, {
        seed: task.world.seed,
        size: task.world.kb.articles.length,
        distractors: this.settings.distractors ?? 0,
      });
      previous?.release();
      return { info: { world: task.world.seed } };
    }
    return {};
  }

  protected async callTool(call: ToolCall, task: SearchTask): Promise<StepResult> {
    switch (call.tool) {
      case 'search':
        return this.search(
          call.args.query as string,
          (call.args.k as number | undefined) ?? this.settings.results ?? DEFAULT_RESULTS,
        );
      case 'open':
        return this.open(call.args.id as string, (call.args.page as number | undefined) ?? 1);
      default:
        return this.answer(call.args.text as string, task);
    }
  }

  private search(query: string, k: number): StepResult {
    if (query.trim() === '')
      throw new ToolInputError('The query is empty; search for names or words, e.g. search("Ravenport mayor").');
    let hits: SearchHit[];
    try {
      hits = this.retriever.search(query, k, this.settings.snippetChars ?? SNIPPET_CHARS);
    } catch (error) {
      if (error instanceof QueryError) throw new ToolInputError(`Cannot search for ${quote(query)}: ${error.message}.`);
      throw error;
    }
    if (hits.length === 0) return observe(`No documents match ${quote(query)}. Try other words: names, places, years.`);
    const lines = [`Results for ${quote(query)}:`];
    hits.forEach((hit, index) => lines.push(`${index + 1}. [${hit.id}] ${hit.title}`, `   ${hit.snippet}`));
    return observe(lines.join('\n'));
  }

  private open(rawId: string, page: number): StepResult {
    const id = documentId(rawId);
    const document = this.retriever.document(id);
    if (!document) throw new ToolInputError(this.unknownId(id));
    const pages = paginate(document.text, this.settings.pageChars);
    if (page > pages.length) {
      throw new ToolInputError(
        `'${id}' has ${pages.length} page${pages.length > 1 ? 's' : ''}; ask for page 1${pages.length > 1 ? ` to ${pages.length}` : ''}.`,
      );
    }
    if (pages.length === 1) return observe(`[${document.id}] ${document.title}\n${pages[0]}`);
    const more = page < pages.length ? `\n(next: open("${document.id}", page=${page + 1}))` : '';
    return observe(`[${document.id}] ${document.title} (page ${page} of ${pages.length})\n${pages[page - 1]}${more}`);
  }

  private unknownId(id: string): string {
    const shown = id.length > 60 ? `${id.slice(0, 60)}…` : id;
    let hint = 'Copy an id exactly as a search result shows it in brackets (without the brackets).';
    try {
      const [best] = this.retriever.search(id, 1);
      if (best)
        return `No document has the id '${shown}'. ${hint} Searching for that text finds [${best.id}] ${best.title}.`;
    } catch (error) {
      if (!(error instanceof QueryError)) throw error;
    }
    hint += ` Ids look like '${this.retriever.firstId}'; search first to find them.`;
    return `No document has the id '${shown}'. ${hint}`;
  }

  private answer(text: string, task: SearchTask): StepResult {
    if (text.trim() === '')
      throw new ToolInputError('The answer is empty; give a short phrase, e.g. answer("Ravenport").');
    const judged = this.suite.verify(task, text as never);
    const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    return {
      observation: { text: `Your answer: ${JSON.stringify(shown)}. ${judged.feedback}` },
      reward: judged.score,
      terminated: true,
      truncated: false,
      info: { success: judged.success, exact_match: exactMatch(text, task.answers), f1: tokenF1(text, task.answers) },
    };
  }

  protected override async dispose(): Promise<void> {
    this.lease?.release();
    this.lease = undefined;
  }
}

function observe(text: string): StepResult {
  return { observation: { text }, reward: 0, terminated: false, truncated: false, info: {} };
}

function quote(query: string): string {
  return JSON.stringify(query.length > 100 ? `${query.slice(0, 100)}…` : query);
}

/** Splits text into pages of at most `pageChars` characters, at whitespace where there is some. */
export function paginate(text: string, pageChars: number): string[] {
  const pages: string[] = [];
  let start = 0;
  while (text.length - start > pageChars) {
    let end = text.lastIndexOf(' ', start + pageChars);
    if (end <= start + pageChars / 2) end = start + pageChars;
    pages.push(text.slice(start, end).trim());
    start = end;
  }
  pages.push(text.slice(start).trim());
  return pages;
}

export interface MultihopKwargs extends SearchEnvSettings {
  difficulty: number;
  size: number;
  distractors: number;
  kbSeed: number;
  /** 0: one knowledge base (kbSeed); N: a world of its own an episode, drawn from a pool of N (see worldsSuite). */
  worlds: number;
  reward: RewardMode;
  indexDirectory?: string;
}

/** Builds `search/multihop-v0` (the knowledge base and index are shared within the process). */
export function createMultihopEnv(spec: EnvSpec, kwargs: MultihopKwargs): SearchEnv {
  if (kwargs.worlds > 0 && kwargs.size > REMOTE_MAX_KB_SIZE)
    throw new InvalidKwargsError(spec.id, [
      {
        path: 'size',
        message: `with worlds, a world has at most ${REMOTE_MAX_KB_SIZE} articles (each episode's world is indexed when the episode starts); got ${kwargs.size}`,
      },
    ]);
  if (kwargs.worlds > 0)
    return new SearchEnv(spec, worldsSuite(kwargs, kwargs.reward), kwargs.difficulty, undefined, kwargs);
  const lease = leaseGeneratedCorpus({
    seed: kwargs.kbSeed,
    size: kwargs.size,
    distractors: kwargs.distractors,
    indexDirectory: kwargs.indexDirectory,
  });
  const suite = multihopSuite(lease.corpus.data, kwargs.reward);
  return new SearchEnv(spec, suite, kwargs.difficulty, lease, kwargs);
}

export interface CorpusKwargs extends SearchEnvSettings {
  documents: string;
  questions: string;
  indexPath?: string;
  reward: RewardMode;
}

/** Builds `search/corpus-v0` over the user's JSONL files. */
export function createCorpusEnv(spec: EnvSpec, kwargs: CorpusKwargs): SearchEnv {
  const lease = leaseUserCorpus(spec.id, kwargs);
  const suite = corpusSuite(lease.corpus.data, lease.corpus.retriever.documentCount, kwargs.reward);
  return new SearchEnv(spec, suite, 1, lease, kwargs);
}

/** The document id an `open` call names: trimmed, and without the brackets search results show it in (`[place-0]`). */
export function documentId(raw: string): string {
  return raw
    .trim()
    .replace(/^\[(.*)\]$/s, '$1')
    .trim();
}
