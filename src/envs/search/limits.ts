/**
 * Bounds on the generated knowledge bases of `search/` envs (see corpus.ts). A module of its own, with no
 * heavy imports, so that the package can export the setter without loading the search engine.
 */

/** Bounds on generated knowledge bases. */
export interface GeneratedCorpusLimits {
  /** Articles of generated knowledge bases open at once in the process (default 200,000: one of the largest size, about 260 MB). */
  maxOpenArticles: number;
  /** Index files of generated knowledge bases kept in one index folder, the least recently used deleted first (default 64). */
  maxCachedIndexes: number;
}

/** The bounds in force (read by corpus.ts). */
export const generatedCorpusLimits: GeneratedCorpusLimits = { maxOpenArticles: 200_000, maxCachedIndexes: 64 };

/**
 * Changes the bounds on generated knowledge bases for this process (a research run with many worlds may want
 * more open at once); returns the previous ones.
 */
export function setGeneratedCorpusLimits(changes: Partial<GeneratedCorpusLimits>): GeneratedCorpusLimits {
  const previous = { ...generatedCorpusLimits };
  Object.assign(generatedCorpusLimits, changes);
  return previous;
}
