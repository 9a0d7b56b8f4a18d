/**
 * `turngym bench search`: the search engine at 10k and 100k generated documents.
 *
 * - Index build rate (docs/s) of the FTS5 index, and of MiniSearch (pure JS) on the same documents.
 * - Query latency p50/p99 for two query sets: entity names as the oracle types them, and 3-word queries of
 *   the corpus's most common words (the worst case: every match is scored).
 * - In the same run, per query, interleaved so that machine noise hits all alike: the raw engine
 *   (`Fts5Retriever.search`: ranking, documents and snippets), its ranking alone (`rankOnly`), the env
 *   (`step(search(...))` through `make`'s wrapper stack), the exhaustive FTS5 query (every match scored, the
 *   fast path's reference), and MiniSearch (given the same words the engine searches for, top 10; it
 *   returns ids and scores, so it is compared with `rankOnly`). Ratios: env overhead (env / raw p50),
 *   fast-path speed-up (exhaustive / rankOnly), speed-up over MiniSearch (MiniSearch / rankOnly, and
 *   MiniSearch / raw), and the mean overlap of the top-10 ids of the engine and MiniSearch.
 * - The env's reset latency (1-4 hops; the corpus is shared, so a reset only draws a question).
 * - Long documents (issue 35, item 8): 20 documents of 100 KB of article text, searched for the six
 *   stopwords `the of a and in by` (the attack: thousands of matches per document) and for an entity name
 *   (a normal query), k = 20, with the engine's snippets and with the old snippet maker, which compared
 *   every pair of matches (bench/search-snippet-baseline.ts), run by turns in the same rounds; also the
 *   snippets alone on the same 20 documents. Ratios of medians, old / new.
 *
 * MiniSearch is a dev dependency: an installed turngym runs the benchmark without it, and the JSON says in
 * `minisearch` that the comparison was left out and how to add it.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type MiniSearch from 'minisearch';
import type { Env } from '../src/envs/env.js';
import { make } from '../src/envs/registry.js';
import { generatedIndexPath } from '../src/envs/search/corpus.js';
import {
  hashDocuments,
  makeSnippet,
  openIndex,
  parseQuery,
  type Fts5Retriever,
  type SearchDocument,
} from '../src/envs/search/engine.js';
import { generateKnowledgeBase } from '../src/envs/search/kb.js';
import { Rng } from '../src/core/rng.js';
import '../src/envs/search/index.js';
import { quadraticSnippet } from './search-snippet-baseline.js';
import { latencySummary, median, now, round } from './stats.js';

export interface SearchBenchOptions {
  /** Corpus sizes (documents). */
  sizes?: number[];
  entityQueries?: number;
  commonQueries?: number;
  /** Also index and query with MiniSearch (slow to index at 100k). */
  minisearch?: boolean;
  /** Rounds of the long-document queries (each runs the old snippet maker, about 2 s on the attack). */
  longDocumentRounds?: number;
}

const K = 10;

const MINISEARCH_MISSING =
  'not installed (a dev dependency of turngym): the comparison with MiniSearch is left out; `npm install minisearch` beside turngym adds it';

/** MiniSearch, or undefined where it is not installed (an installed turngym has no dev dependencies). */
async function loadMiniSearch(): Promise<typeof MiniSearch | undefined> {
  try {
    return (await import('minisearch')).default;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

export async function runSearchBench(options: SearchBenchOptions = {}) {
  const sizes = options.sizes ?? [10_000, 100_000];
  const MiniSearchClass = (options.minisearch ?? true) ? await loadMiniSearch() : undefined;
  const directory = mkdtempSync(join(tmpdir(), 'turngym-bench-search-'));
  const results: Record<string, unknown>[] = [];
  let longDocuments: Record<string, unknown>;
  try {
    longDocuments = benchLongDocuments(directory, options.longDocumentRounds ?? 7);
    for (const size of sizes) results.push(await benchSize(size, directory, options, MiniSearchClass));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return {
    benchmark: 'search',
    k: K,
    note: 'latencies in ms; ratios compare variants measured in the same run, query by query',
    targets: { entity_p50_ms_at_100k: 1, env_overhead_ratio_max: 1.2, speedup_vs_minisearch_min: 3 },
    ...((options.minisearch ?? true) && !MiniSearchClass ? { minisearch: MINISEARCH_MISSING } : {}),
    sizes: results,
    long_documents: longDocuments,
  };
}

const LONG_DOCUMENTS = 20;
const LONG_DOCUMENT_CHARS = 100_000;

/** The attack of issue 35 (item 8) and a normal query over long documents: old and new snippets, side by side. */
function benchLongDocuments(directory: string, rounds: number) {
  const kb = generateKnowledgeBase({ seed: 0, size: 2000 });
  const documents: SearchDocument[] = [];
  for (let index = 0, article = 0; index < LONG_DOCUMENTS; index++) {
    let text = '';
    while (text.length < LONG_DOCUMENT_CHARS) text += `${kb.articles[article++ % kb.articles.length]!.text}\n\n`;
    documents.push({ id: `long-${index}`, title: `Long document ${index}`, text });
  }
  const retriever = openIndex({
    path: join(directory, 'long.sqlite'),
    contentHash: hashDocuments(documents),
    documents: () => documents,
  });
  const k = LONG_DOCUMENTS;
  const measure = (query: string) => {
    const words = new Set(parseQuery(query).terms.flatMap((term) => term.words));
    // The old engine: the same ranking and documents, then the old snippets.
    const oldSearch = () =>
      retriever.rankDocuments(query, k).map(({ document }) => quadraticSnippet(document.text, words));
    const hits = retriever.rankDocuments(query, k).map(({ document }) => document);
    const samples = {
      search_new: [] as number[],
      search_old: [] as number[],
      snippets_new: [] as number[],
      snippets_old: [] as number[],
    };
    const variants: [keyof typeof samples, () => unknown][] = [
      ['search_new', () => retriever.search(query, k)],
      ['search_old', oldSearch],
      ['snippets_new', () => hits.map((document) => makeSnippet(document.text, words))],
      ['snippets_old', () => hits.map((document) => quadraticSnippet(document.text, words))],
    ];
    const statistics = { ...retriever.snippetStatistics };
    retriever.search(query, k);
    const matches = retriever.snippetStatistics.matches - statistics.matches;
    for (let round = 0; round < rounds; round++) {
      // Each round runs every variant; the order rotates so that none always finds the caches warm.
      for (let turn = 0; turn < variants.length; turn++) {
        const [name, call] = variants[(round + turn) % variants.length]!;
        const start = now();
        call();
        samples[name].push(now() - start);
      }
    }
    const same = hits.filter(
      (document) => makeSnippet(document.text, words) === quadraticSnippet(document.text, words),
    ).length;
    return {
      query,
      hits: hits.length,
      matches_considered_per_document: round(matches / Math.max(1, hits.length)),
      search_new: latencySummary(samples.search_new),
      search_old: latencySummary(samples.search_old),
      speedup_p50: round(median(samples.search_old) / median(samples.search_new), 3),
      snippets_new: latencySummary(samples.snippets_new),
      snippets_old: latencySummary(samples.snippets_old),
      snippet_speedup_p50: round(median(samples.snippets_old) / median(samples.snippets_new), 3),
      same_snippets: same,
    };
  };
  try {
    return {
      documents: LONG_DOCUMENTS,
      chars_per_document: LONG_DOCUMENT_CHARS,
      k,
      rounds,
      attack: measure('the of a and in by'),
      normal: measure(kb.entities.find((entity) => entity.kind === 'person')!.name),
    };
  } finally {
    retriever.close();
  }
}

async function benchSize(
  size: number,
  directory: string,
  options: SearchBenchOptions,
  MiniSearchClass: typeof MiniSearch | undefined,
) {
  const corpus = { seed: 0, size, distractors: 0.3, indexDirectory: directory };
  let start = now();
  const kb = generateKnowledgeBase(corpus);
  const generateSeconds = (now() - start) / 1000;

  const indexPath = generatedIndexPath(corpus);
  start = now();
  const raw: Fts5Retriever = openIndex({
    path: indexPath,
    contentHash: hashDocuments(kb.articles),
    documents: () => kb.articles,
  });
  const buildSeconds = (now() - start) / 1000;

  // The env over the same index file (its corpus lease regenerates the knowledge base and reuses the index).
  const env: Env = await make(
    'search/multihop-v0',
    { size, kbSeed: 0, distractors: 0.3, indexDirectory: directory },
    { maxTurns: 1_000_000 },
  );
  await env.reset({ seed: 0 });

  const rng = Rng.fromSeed(size);
  const entityQueries = Array.from({ length: options.entityQueries ?? 1000 }, () => rng.pick(kb.entities).name);
  const commonWords = mostCommonWords(raw, 40);
  const commonQueries = Array.from({ length: options.commonQueries ?? 200 }, () =>
    rng.sample(commonWords, 3).join(' '),
  );

  let minisearch: MiniSearch | undefined;
  let minisearchBuild: Record<string, number> | undefined;
  if (MiniSearchClass) {
    const heapBefore = process.memoryUsage().heapUsed;
    start = now();
    minisearch = new MiniSearchClass({
      fields: ['title', 'text'],
      idField: 'id',
      searchOptions: { boost: { title: 4 } },
    });
    minisearch.addAll(kb.articles);
    const seconds = (now() - start) / 1000;
    minisearchBuild = {
      seconds: round(seconds),
      docs_per_s: round(size / seconds),
      heap_mb: round((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20),
    };
  }

  const measure = async (queries: string[]) => {
    const samples = {
      raw: [] as number[],
      rank: [] as number[],
      env: [] as number[],
      exhaustive: [] as number[],
      minisearch: [] as number[],
    };
    let overlap = 0;
    // Warm-up (JIT, page cache).
    for (const query of queries.slice(0, 20)) {
      raw.search(query, K);
      await env.step({ tool: 'search', args: { query, k: K } });
    }
    for (const [index, query] of queries.entries()) {
      const words = parseQuery(query)
        .terms.flatMap((term) => term.words)
        .join(' ');
      let hits: { id: string }[] = [];
      let theirs: { id: unknown }[] = [];
      const variants: [keyof typeof samples, () => unknown][] = [
        ['raw', () => (hits = raw.search(query, K))],
        ['rank', () => raw.rankOnly(query, K)],
        ['env', () => env.step({ tool: 'search', args: { query, k: K } })],
        ['exhaustive', () => raw.rankExhaustive(query, K)],
        ...(minisearch
          ? [
              ['minisearch', () => (theirs = minisearch!.search(words).slice(0, K))] as [
                keyof typeof samples,
                () => unknown,
              ],
            ]
          : []),
      ];
      // Each query runs every variant; the order rotates so that none always finds the caches warm.
      for (let turn = 0; turn < variants.length; turn++) {
        const [name, call] = variants[(index + turn) % variants.length]!;
        const t = now();
        await call();
        samples[name].push(now() - t);
      }
      if (minisearch) {
        const ours = new Set(hits.map((hit) => hit.id));
        overlap +=
          theirs.filter((result) => ours.has(result.id as string)).length /
          Math.max(1, Math.min(K, hits.length, theirs.length));
      }
    }
    const p50 = (values: number[]) => latencySummary(values).p50_ms;
    return {
      queries: queries.length,
      example: queries[0],
      raw: latencySummary(samples.raw),
      raw_rank_only: latencySummary(samples.rank),
      env: latencySummary(samples.env),
      exhaustive: latencySummary(samples.exhaustive),
      ...(minisearch ? { minisearch: latencySummary(samples.minisearch) } : {}),
      env_overhead_ratio: round(p50(samples.env) / p50(samples.raw), 3),
      fast_path_speedup: round(p50(samples.exhaustive) / p50(samples.rank), 3),
      ...(minisearch
        ? {
            speedup_vs_minisearch: round(p50(samples.minisearch) / p50(samples.rank), 3),
            speedup_vs_minisearch_with_snippets: round(p50(samples.minisearch) / p50(samples.raw), 3),
            top10_overlap: round(overlap / queries.length, 3),
          }
        : {}),
    };
  };

  const entity = await measure(entityQueries);
  const common = await measure(commonQueries);
  minisearch = undefined; // its index is garbage now, not a GC load on the reset timings
  const resets: number[] = [];
  for (let seed = 0; seed < (options.entityQueries ?? 1000); seed++) {
    const t = now();
    await env.reset({ seed, options: { difficulty: 1 + (seed % 4) } });
    resets.push(now() - t);
  }
  await env.close();
  raw.close();
  return {
    documents: size,
    generate_s: round(generateSeconds),
    build: {
      seconds: round(buildSeconds),
      docs_per_s: round(size / buildSeconds),
      index_mb: round(statSync(indexPath).size / 2 ** 20),
    },
    ...(minisearchBuild ? { minisearch_build: minisearchBuild } : {}),
    entity_queries: entity,
    common_word_queries: common,
    env_reset: latencySummary(resets),
  };
}

/** The most frequent words of the index (by documents), stopwords and digits excluded. */
function mostCommonWords(retriever: Fts5Retriever, count: number): string[] {
  return retriever
    .frequentTerms(count * 2)
    .filter((term) => /^\p{L}{3,}$/u.test(term) && parseQuery(term).terms.length === 1 && !isStopword(term))
    .slice(0, count);
}

function isStopword(term: string): boolean {
  // parseQuery keeps a lone stopword; paired with a content word it is dropped.
  return parseQuery(`${term} zzzz`).terms.length === 1;
}
