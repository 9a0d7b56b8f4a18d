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
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MiniSearch from 'minisearch';
import type { Env } from '../src/envs/env.js';
import { make } from '../src/envs/registry.js';
import { generatedIndexPath } from '../src/envs/search/corpus.js';
import { hashDocuments, openIndex, parseQuery, type Fts5Retriever } from '../src/envs/search/engine.js';
import { generateKnowledgeBase } from '../src/envs/search/kb.js';
import { Rng } from '../src/envs/task.js';
import '../src/envs/search/index.js';
import { latencySummary, now, round } from './stats.js';

export interface SearchBenchOptions {
  /** Corpus sizes (documents). */
  sizes?: number[];
  entityQueries?: number;
  commonQueries?: number;
  /** Also index and query with MiniSearch (slow to index at 100k). */
  minisearch?: boolean;
}

const K = 10;

export async function runSearchBench(options: SearchBenchOptions = {}) {
  const sizes = options.sizes ?? [10_000, 100_000];
  const directory = mkdtempSync(join(tmpdir(), 'turngym-bench-search-'));
  const results: Record<string, unknown>[] = [];
  try {
    for (const size of sizes) results.push(await benchSize(size, directory, options));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return {
    benchmark: 'search',
    k: K,
    note: 'latencies in ms; ratios compare variants measured in the same run, query by query',
    targets: { entity_p50_ms_at_100k: 1, env_overhead_ratio_max: 1.2, speedup_vs_minisearch_min: 3 },
    sizes: results,
  };
}

async function benchSize(size: number, directory: string, options: SearchBenchOptions) {
  const corpus = { seed: 0, size, distractors: 0.3, indexDirectory: directory };
  let start = now();
  const kb = generateKnowledgeBase(corpus);
  const generateSeconds = (now() - start) / 1000;

  const indexPath = generatedIndexPath(corpus);
  start = now();
  const raw: Fts5Retriever = openIndex({ path: indexPath, contentHash: hashDocuments(kb.articles), documents: () => kb.articles });
  const buildSeconds = (now() - start) / 1000;

  // The env over the same index file (its corpus lease regenerates the knowledge base and reuses the index).
  const env: Env = await make('search/multihop-v0', { size, kbSeed: 0, distractors: 0.3, indexDirectory: directory }, { maxTurns: 1_000_000 });
  await env.reset({ seed: 0 });

  const rng = Rng.fromSeed(size);
  const entityQueries = Array.from({ length: options.entityQueries ?? 1000 }, () => rng.pick(kb.entities).name);
  const commonWords = mostCommonWords(raw, 40);
  const commonQueries = Array.from({ length: options.commonQueries ?? 200 }, () => rng.sample(commonWords, 3).join(' '));

  let minisearch: MiniSearch | undefined;
  let minisearchBuild: Record<string, number> | undefined;
  if (options.minisearch ?? true) {
    const heapBefore = process.memoryUsage().heapUsed;
    start = now();
    minisearch = new MiniSearch({ fields: ['title', 'text'], idField: 'id', searchOptions: { boost: { title: 4 } } });
    minisearch.addAll(kb.articles);
    const seconds = (now() - start) / 1000;
    minisearchBuild = { seconds: round(seconds), docs_per_s: round(size / seconds), heap_mb: round((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20) };
  }

  const measure = async (queries: string[]) => {
    const samples = { raw: [] as number[], rank: [] as number[], env: [] as number[], exhaustive: [] as number[], minisearch: [] as number[] };
    let overlap = 0;
    // Warm-up (JIT, page cache).
    for (const query of queries.slice(0, 20)) {
      raw.search(query, K);
      await env.step({ tool: 'search', args: { query, k: K } });
    }
    for (const [index, query] of queries.entries()) {
      const words = parseQuery(query).terms.flatMap((term) => term.words).join(' ');
      let hits: { id: string }[] = [];
      let theirs: { id: unknown }[] = [];
      const variants: [keyof typeof samples, () => unknown][] = [
        ['raw', () => (hits = raw.search(query, K))],
        ['rank', () => raw.rankOnly(query, K)],
        ['env', () => env.step({ tool: 'search', args: { query, k: K } })],
        ['exhaustive', () => raw.rankExhaustive(query, K)],
        ...(minisearch ? [['minisearch', () => (theirs = minisearch!.search(words).slice(0, K))] as [keyof typeof samples, () => unknown]] : []),
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
        overlap += theirs.filter((result) => ours.has(result.id as string)).length / Math.max(1, Math.min(K, hits.length, theirs.length));
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
    build: { seconds: round(buildSeconds), docs_per_s: round(size / buildSeconds), index_mb: round(statSync(indexPath).size / 2 ** 20) },
    ...(minisearchBuild ? { minisearch_build: minisearchBuild } : {}),
    entity_queries: entity,
    common_word_queries: common,
    env_reset: latencySummary(resets),
  };
}

/** The most frequent words of the index (by documents), stopwords and digits excluded. */
function mostCommonWords(retriever: Fts5Retriever, count: number): string[] {
  return retriever.frequentTerms(count * 2).filter((term) => /^\p{L}{3,}$/u.test(term) && parseQuery(term).terms.length === 1 && !isStopword(term)).slice(0, count);
}

function isStopword(term: string): boolean {
  // parseQuery keeps a lone stopword; paired with a content word it is dropped.
  return parseQuery(`${term} zzzz`).terms.length === 1;
}
