/**
 * Registers the `search/` family. SQLite (better-sqlite3) and the knowledge-base generator load only when
 * an env is created.
 */
import { z } from 'zod';
import { registerBuiltin } from '../registry.js';
import { MAX_KB_SIZE, MAX_WORLDS, MIN_KB_SIZE, REMOTE_MAX_KB_SIZE } from './kb.js';
import { DEFAULT_RESULTS, MAX_RESULTS, searchTools } from './tools.js';

const reward = z
  .enum(['f1', 'exact'])
  .default('f1')
  .describe('Reward of the final answer: token F1 (default) or exact match; success is always exact match');
const pageChars = z
  .number()
  .int()
  .min(200)
  .max(100_000)
  .default(2000)
  .describe('Characters per page of open(); longer documents are paged');
const results = z
  .number()
  .int()
  .min(1)
  .max(MAX_RESULTS)
  .default(DEFAULT_RESULTS)
  .describe(
    `Results of a search that does not ask for k (default ${DEFAULT_RESULTS}); fewer make observations a small context can hold`,
  );
const snippetChars = z
  .number()
  .int()
  .min(40)
  .max(1000)
  .default(200)
  .describe("Characters of a search result's snippet (default 200)");
/** A client of `turngym serve` (agent or trainer) reads pages of at most 20,000 characters. */
const remotePageChars = z.number().int().min(200).max(20_000);

export const multihopV0 = registerBuiltin({
  id: 'search/multihop-v0',
  description: 'Answer 1-4 hop questions over a generated encyclopedia (BM25 search on SQLite FTS5, open, answer).',
  tools: searchTools,
  maxTurns: 12,
  kwargs: z.object({
    difficulty: z
      .number()
      .int()
      .min(1)
      .max(4)
      .default(2)
      .describe('Hops: the number of articles to read, 1 to 4 (default 2)'),
    size: z
      .number()
      .int()
      .min(MIN_KB_SIZE)
      .max(MAX_KB_SIZE)
      .default(2000)
      .describe('Number of articles in the knowledge base (default 2000)'),
    distractors: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe('Distractor density: share of entities with a similar-named twin (default 0.3)'),
    kbSeed: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Seed of the knowledge base (reset seeds pick questions; default 0)'),
    worlds: z
      .number()
      .int()
      .min(0)
      .max(MAX_WORLDS)
      .default(0)
      .describe(
        "A world of its own each episode: 0 (default) asks every question about one knowledge base (kbSeed); N draws each episode's knowledge base from a pool of N generated from kbSeed, indexed in memory, and holds out 1 world in 5 (split), so held-out questions are about worlds no training episode saw",
      ),
    reward,
    pageChars,
    results,
    snippetChars,
    indexDirectory: z
      .string()
      .optional()
      .describe('Folder of the index file (default .cache/turngym/search in the working directory)'),
  }),
  // indexDirectory is a path on the server: the operator's. A larger knowledge base blocks the server while it builds.
  remoteKwargs: {
    difficulty: true,
    size: z.number().int().min(MIN_KB_SIZE).max(REMOTE_MAX_KB_SIZE),
    distractors: true,
    kbSeed: true,
    worlds: true,
    reward: true,
    pageChars: remotePageChars,
    results: true,
    snippetChars: true,
  },
  create: async (kwargs, spec) => (await import('./env.js')).createMultihopEnv(spec, kwargs),
});

export const corpusV0 = registerBuiltin({
  id: 'search/corpus-v0',
  description: 'Answer your own questions over your own documents (JSONL files), with the same search tools.',
  tools: searchTools,
  maxTurns: 10,
  kwargs: z.object({
    documents: z.string().min(1).describe('JSONL file of documents: {"id", "title"?, "text"} per line'),
    questions: z
      .string()
      .min(1)
      .describe('JSONL file of questions: {"question", "answers": [...], "supporting"?: [ids]} per line'),
    indexPath: z.string().optional().describe('Index file (default: <documents>.index.sqlite next to the documents)'),
    reward,
    pageChars,
  }),
  // The files are paths on the server: the operator's (turngym serve --kwargs), never a client's.
  remoteKwargs: { reward: true, pageChars: remotePageChars },
  create: async (kwargs, spec) => (await import('./env.js')).createCorpusEnv(spec, kwargs),
});
