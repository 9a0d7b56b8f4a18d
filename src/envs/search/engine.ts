/**
 * The search engine: BM25 ranking on SQLite FTS5 (through better-sqlite3), behind the small {@link Retriever}
 * interface so that envs never see SQL.
 *
 * - The index is a file. `openIndex` reuses it when its stored content hash matches the corpus (and the
 *   index format has not changed); otherwise it builds a new one in a temporary file and renames it into
 *   place, so two processes building the same index never see a half-written file.
 * - Agents type arbitrary text; {@link toFtsQuery} turns it into safe FTS5 syntax (every word a quoted
 *   string, joined with OR; "double-quoted phrases" stay phrases), so FTS5 syntax errors never happen.
 * - Ranking is deterministic: BM25 with the title weighted 4x the body, ties broken by document id.
 * - Queries that mix rare and common words (a surname and a first name) take an exact fast path that
 *   scores only the documents with a rare word (see `Fts5Retriever.rank`).
 * - Snippets cost one sweep over a document's matches, within per-document bounds on the words looked for
 *   and the matches considered (see {@link makeSnippet}), so long documents cannot make a query slow.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { EnvFailureError } from '../../core/errors.js';

/** A document as stored and returned by `open`. */
export interface SearchDocument {
  id: string;
  title: string;
  text: string;
}

/** One ranked search result. */
export interface SearchHit {
  id: string;
  title: string;
  /** An excerpt of the body around the matched terms, which are wrapped in `**`. */
  snippet: string;
  /** BM25 score (higher is better). */
  score: number;
}

/** What an env needs from a search engine. Implementations must be deterministic for a given corpus. */
export interface Retriever {
  /** Number of documents in the index. */
  readonly documentCount: number;
  /**
   * The top `k` documents for agent-typed `query` text, best first (ties by id). Throws {@link QueryError}
   * when the text has nothing to search for.
   */
  /** The top `k` documents for `query`, each with a snippet of about `snippetChars` characters (default 200). */
  search(query: string, k: number, snippetChars?: number): SearchHit[];
  /** The document with this id, or undefined. */
  document(id: string): SearchDocument | undefined;
  /** The smallest document id (an example for hints). */
  readonly firstId: string;
  /** Frees the database handle; idempotent. */
  close(): void;
}

/** The query text has no searchable words (an agent mistake; the env shows the message). */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

/** Words beyond this many are ignored (they rarely change the top results and cost time). */
export const MAX_QUERY_TERMS = 32;
/** Bumped when the schema or tokenizer changes, so that old index files are rebuilt. */
const INDEX_FORMAT = 'turngym-fts5-2';
/** BM25 weight of the title relative to the body. */
const TITLE_WEIGHT = 4;
/** FTS5's BM25 constants (fts5_aux.c), used for the score bounds of the fast path. */
const BM25_K1 = 1.2;
/**
 * The fast path ranks first the documents that contain the rarest terms, up to this many documents in
 * all; the other ("common") terms are scored only in those documents (see `Fts5Retriever.rank`).
 */
const RARE_DOCUMENTS = 400;
/** Below this many documents with a common term, scoring them all is cheaper than the fast path's queries. */
const COMMON_DOCUMENTS = 1500;

// Words too common to help ranking; dropped from a query unless it has nothing else.
const STOPWORDS = new Set(
  'a an and are as at be by did do does for from has have how in is it its of on or that the this to was were what when where which who whom whose why with'.split(
    ' ',
  ),
);

/** A parsed query: its terms (single words or quoted phrases), folded as FTS5 folds them. */
export interface ParsedQuery {
  terms: { words: string[]; phrase: boolean }[];
}

/** Lower-cases and strips diacritics, as FTS5's `unicode61 remove_diacritics 2` tokenizer does. */
export function foldWord(word: string): string {
  // ASCII needs no decomposition (the common case, and snippets fold every word of a document).
  return /^[\x00-\x7f]*$/.test(word)
    ? word.toLowerCase()
    : word
        .normalize('NFKD')
        .replace(/\p{M}+/gu, '')
        .toLowerCase();
}

function words(text: string): string[] {
  return (text.normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? []).map(foldWord).filter((word) => word !== '');
}

/**
 * Parses agent text into terms: words (runs of letters and digits, after NFKC normalisation) and
 * "double-quoted phrases"; an unclosed quote runs to the end. Everything else, including FTS5 operators
 * (`AND`, `NEAR`, `*`, `-`, `:`, `^`, parentheses), is a word or a separator, never syntax. Stopwords are
 * dropped unless nothing else is left; at most {@link MAX_QUERY_TERMS} distinct terms are kept. Throws
 * {@link QueryError} when nothing searchable is left.
 */
export function parseQuery(text: string): ParsedQuery {
  const phrases: string[][] = [];
  const loose: string[] = [];
  text.split('"').forEach((segment, index) => {
    const found = words(segment);
    if (index % 2 === 1 && found.length > 1) phrases.push(found);
    else loose.push(...found);
  });
  const content = loose.filter((word) => !STOPWORDS.has(word));
  const kept = content.length > 0 || phrases.length > 0 ? content : loose;
  const seen = new Set<string>();
  const terms: ParsedQuery['terms'] = [];
  const add = (termWords: string[], phrase: boolean) => {
    const key = termWords.join(' ');
    if (!seen.has(key) && terms.length < MAX_QUERY_TERMS) {
      seen.add(key);
      terms.push({ words: termWords, phrase });
    }
  };
  for (const phrase of phrases) add(phrase, true);
  for (const word of kept) add([word], false);
  if (terms.length === 0) {
    throw new QueryError(
      'the query has no words to search for (only spaces, punctuation or symbols); search for names or words, e.g. search("Ravenport mayor")',
    );
  }
  return { terms };
}

/** The FTS5 expression for some terms: each a quoted string (so never syntax), joined with OR. */
function ftsExpression(terms: ParsedQuery['terms']): string {
  return terms.map((term) => `"${term.words.join(' ')}"`).join(' OR ');
}

/** The FTS5 query for agent text (see {@link parseQuery}); always valid FTS5 syntax. */
export function toFtsQuery(text: string): string {
  return ftsExpression(parseQuery(text).terms);
}

export interface OpenIndexOptions {
  /** Where the index file lives (its folder is created). */
  path: string;
  /** Hash of the corpus content; the index is rebuilt when it differs from the stored one. */
  contentHash: string;
  /** The corpus, read only when the index must be built. Ids must be unique. */
  documents: () => Iterable<SearchDocument>;
}

/** Opens the FTS5 index at `path`, building it first when it is missing or stale. */
export function openIndex(options: OpenIndexOptions): Fts5Retriever {
  const hash = indexHash(options.contentHash);
  const existing = tryOpen(options.path, hash);
  if (existing) return existing;
  buildIndex(options.path, hash, options.documents());
  const built = tryOpen(options.path, hash);
  if (!built) throw new EnvFailureError(`The search index at ${options.path} could not be opened after building it.`);
  return built;
}

/** Hash of a corpus given as documents (for generated corpora held in memory). */
export function hashDocuments(documents: Iterable<SearchDocument>): string {
  const hash = createHash('sha256');
  for (const document of documents) hash.update(`${document.id}\u0000${document.title}\u0000${document.text}\u0001`);
  return hash.digest('hex');
}

function indexHash(contentHash: string): string {
  return createHash('sha256').update(`${INDEX_FORMAT}\u0000${contentHash}`).digest('hex');
}

function tryOpen(path: string, hash: string): Fts5Retriever | undefined {
  let database: Database.Database;
  try {
    database = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
  try {
    const row = database.prepare("SELECT value FROM meta WHERE key = 'hash'").get() as { value: string } | undefined;
    if (row?.value === hash) return new Fts5Retriever(database);
  } catch {
    // Not an index of ours (or a damaged one): rebuilt below.
  }
  database.close();
  return undefined;
}

/**
 * A small corpus's index held in memory, not in a file: what a world generated for an episode or a pool of
 * worlds (search/multihop-v0's `worlds`) is searched with. The same tables and ranking as an index file.
 */
export function memoryIndex(documents: Iterable<SearchDocument>): Fts5Retriever {
  const database = new Database(':memory:');
  try {
    writeIndex(database, 'memory', documents);
  } catch (error) {
    database.close();
    if (error instanceof Error && /UNIQUE constraint failed: documents.id/.test(error.message))
      throw new EnvFailureError('Cannot build a search index: two documents have the same id.', { cause: error });
    throw error;
  }
  return new Fts5Retriever(database);
}

/** Creates the index's tables in `index` and fills them with `documents`. */
function writeIndex(index: Database.Database, hash: string, documents: Iterable<SearchDocument>): void {
  index.pragma('journal_mode = OFF');
  index.pragma('synchronous = OFF');
  index.exec(`
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE documents(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, text TEXT NOT NULL);
    CREATE VIRTUAL TABLE fts USING fts5(id UNINDEXED, title, text, content='documents', content_rowid='rowid',
      tokenize='unicode61 remove_diacritics 2');
    CREATE TABLE terms(term TEXT PRIMARY KEY, documents INTEGER NOT NULL) WITHOUT ROWID;
  `);
  const sorted = [...documents].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const insertDocument = index.prepare('INSERT INTO documents(rowid, id, title, text) VALUES (?, ?, ?, ?)');
  const insertFts = index.prepare('INSERT INTO fts(rowid, id, title, text) VALUES (?, ?, ?, ?)');
  index.transaction(() => {
    // Rowids follow id order, so ordering ties by rowid orders them by id.
    sorted.forEach((document, position) => {
      insertDocument.run(position + 1, document.id, document.title, document.text);
      insertFts.run(position + 1, document.id, document.title, document.text);
    });
    index.prepare("INSERT INTO meta(key, value) VALUES ('hash', ?), ('count', ?)").run(hash, String(sorted.length));
  })();
  // Document frequencies, for the score bounds of the fast path (fts5vocab counts them by scanning).
  index.exec(`
    INSERT INTO fts(fts) VALUES('optimize');
    CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, fts, 'row');
    INSERT INTO terms(term, documents) SELECT term, doc FROM temp.vocabulary;
  `);
}

/** Builds the index into a temporary file next to `path`, then renames it into place. */
function buildIndex(path: string, hash: string, documents: Iterable<SearchDocument>): void {
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  let database: Database.Database | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const index = new Database(temporary);
    database = index;
    writeIndex(index, hash, documents);
    index.close();
    renameSync(temporary, path);
  } catch (error) {
    if (database?.open) database.close();
    try {
      rmSync(temporary, { force: true });
    } catch {
      // The folder itself is unusable (the error below says why); there is nothing to clean up.
    }
    if (error instanceof Error && /UNIQUE constraint failed: documents.id/.test(error.message)) {
      throw new EnvFailureError(
        `Cannot build the search index at ${path}: two documents have the same id; document ids must be unique.`,
        { cause: error },
      );
    }
    throw new EnvFailureError(
      `Cannot build the search index at ${path}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

type Ranked = { rowid: number; score: number };

/** A {@link Retriever} over an FTS5 index file, opened read-only. */
export class Fts5Retriever implements Retriever {
  readonly documentCount: number;
  readonly firstId: string;
  private readonly ranked: Database.Statement;
  private readonly documentFrequency: Database.Statement;
  private readonly byRowids: Database.Statement;
  private readonly byId: Database.Statement;

  constructor(private readonly database: Database.Database) {
    // Memory-mapped reads: pages come straight from the OS page cache (shared by every process that
    // opens the same index) instead of a read() per page into SQLite's small private cache.
    database.pragma('mmap_size = 1073741824');
    this.documentCount = (database.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
    this.firstId =
      (database.prepare('SELECT id FROM documents ORDER BY rowid LIMIT 1').pluck().get() as string | undefined) ?? '';
    // Ordering by the score and then the rowid makes ties come out in id order (rowids follow ids).
    this.ranked = database.prepare(
      `SELECT fts.rowid AS rowid, -bm25(fts, 0, ${TITLE_WEIGHT}, 1) AS score FROM fts WHERE fts MATCH ? ORDER BY score DESC, fts.rowid LIMIT ?`,
    );
    this.documentFrequency = database.prepare('SELECT documents FROM terms WHERE term = ?').pluck();
    this.byRowids = database.prepare(
      'SELECT rowid, id, title, text FROM documents WHERE rowid IN (SELECT value FROM json_each(?))',
    );
    this.byId = database.prepare('SELECT id, title, text FROM documents WHERE id = ?');
  }

  search(query: string, k: number, snippetChars = SNIPPET_CHARS): SearchHit[] {
    const parsed = parseQuery(query);
    const highlight = new Set(parsed.terms.flatMap((term) => term.words));
    return this.rankedDocuments(parsed, k).map(({ document, score }) => ({
      id: document.id,
      title: document.title,
      snippet: makeSnippet(document.text, highlight, this.snippetStatistics, snippetChars),
      score,
    }));
  }

  /** The top `k` documents with their scores, best first: what `search` returns, before the snippets. */
  rankDocuments(query: string, k: number): { document: SearchDocument; score: number }[] {
    return this.rankedDocuments(parseQuery(query), k);
  }

  private rankedDocuments(parsed: ParsedQuery, k: number): { document: SearchDocument; score: number }[] {
    const ranked = this.rank(parsed, k);
    // One statement for all the hits' documents (a statement call costs more than the row lookups).
    const documents = new Map(
      (this.byRowids.all(JSON.stringify(ranked.map((row) => row.rowid))) as (SearchDocument & { rowid: number })[]).map(
        (row) => [row.rowid, row],
      ),
    );
    return ranked.map(({ rowid, score }) => ({ document: documents.get(rowid)!, score }));
  }

  /** The work of the snippets made so far (see {@link SnippetWork}): what bounds a query's cost on long documents. */
  readonly snippetStatistics: SnippetWork = { documents: 0, words: 0, matches: 0, steps: 0 };

  /**
   * The top `k` rowids by BM25 over the OR of all terms, exactly as the exhaustive query ranks them.
   *
   * Scoring every document that has a common word (a first name, "city") is what makes OR queries slow, so
   * when a query mixes rare and common terms this first ranks only the documents with a rare term (two
   * cheap queries: rare AND common, rare NOT common; the scores are the full query's, because BM25 sums
   * over the query's phrases and absent ones add nothing). A document with only common terms scores
   * below the sum of those terms' upper bounds, idf * (k1 + 1) (MaxScore's argument); when the k-th result
   * beats that bound the answer is exact, otherwise the exhaustive query runs. Document frequencies come
   * from the `terms` table written at build time; a word the table lacks counts as rare, which can only
   * cost time, never exactness.
   */
  private rank(parsed: ParsedQuery, k: number): Ranked[] {
    // Rarest terms first; a phrase is as rare as its rarest word; a word missing from the index counts 0.
    const counted = parsed.terms
      .map((term) => ({
        term,
        documents: Math.min(...term.words.map((word) => (this.documentFrequency.get(word) as number | undefined) ?? 0)),
      }))
      .sort((a, b) => a.documents - b.documents);
    let rareDocuments = 0;
    let split = 0;
    while (split < counted.length && rareDocuments + counted[split]!.documents <= RARE_DOCUMENTS)
      rareDocuments += counted[split++]!.documents;
    const commonDocuments = counted.slice(split).reduce((sum, { documents }) => sum + documents, 0);
    // With fewer than k documents holding a rare term, the bound can never certify the answer.
    if (split > 0 && rareDocuments >= k && commonDocuments > COMMON_DOCUMENTS) {
      this.fastPathStatistics.tried++;
      const rare = ftsExpression(counted.slice(0, split).map(({ term }) => term));
      const common = ftsExpression(counted.slice(split).map(({ term }) => term));
      const commonBound = counted
        .slice(split)
        .reduce((sum, { documents }) => sum + idf(this.documentCount, documents) * (BM25_K1 + 1), 0);
      // Documents with a rare and a common term, scored by the full query.
      const both = this.ranked.all(`(${rare}) AND (${common})`, k) as Ranked[];
      // Documents with a rare term, scored by the rare terms only: exact for those without common terms;
      // one with common terms that is not in `both` scores at most both's k-th, so it can never displace
      // any of `both` (and when `both` has fewer than k, it holds every such document).
      const inBoth = new Set(both.map((row) => row.rowid));
      const rareOnly = (this.ranked.all(rare, k) as Ranked[]).filter((row) => !inBoth.has(row.rowid));
      const merged = [...both, ...rareOnly].sort(byScoreThenRowid).slice(0, k);
      if (merged.length === k && merged[k - 1]!.score > commonBound * (1 + 1e-9)) {
        this.fastPathStatistics.exact++;
        return merged;
      }
    }
    return this.ranked.all(ftsExpression(parsed.terms), k) as Ranked[];
  }

  /** How often the fast path ran and how often its answer was certified exact (the rest ran exhaustively). */
  readonly fastPathStatistics = { tried: 0, exact: 0 };

  /** The top `k` (rowid, score) pairs, without fetching documents or making snippets. */
  rankOnly(query: string, k: number): Ranked[] {
    return this.rank(parseQuery(query), k);
  }

  /** The exhaustive ranking (every matching document scored); the reference the fast path must equal. */
  rankExhaustive(query: string, k: number): Ranked[] {
    return this.ranked.all(toFtsQuery(query), k) as Ranked[];
  }

  document(id: string): SearchDocument | undefined {
    return this.byId.get(id) as SearchDocument | undefined;
  }

  /** The `count` words in the most documents (for benchmarks of the worst case). */
  frequentTerms(count: number): string[] {
    return this.database
      .prepare('SELECT term FROM terms ORDER BY documents DESC, term LIMIT ?')
      .pluck()
      .all(count) as string[];
  }

  close(): void {
    if (this.database.open) this.database.close();
  }
}

function byScoreThenRowid(a: Ranked, b: Ranked): number {
  return b.score - a.score || a.rowid - b.rowid;
}

/** FTS5's BM25 idf (fts5_aux.c), including its floor for terms in more than half the documents. */
function idf(documentCount: number, documents: number): number {
  const value = Math.log((documentCount - documents + 0.5) / (documents + 0.5));
  return value <= 0 ? 1e-6 : value;
}

export const SNIPPET_CHARS = 200;

/**
 * Most matches of query words a snippet considers in one document: the first ones in text order. A long
 * document holds tens of thousands of "the" or "of"; the densest window among its first matches makes as
 * good a snippet, and the work per document stays bounded whatever the document's length.
 */
export const MAX_SNIPPET_MATCHES = 2000;

/**
 * Most distinct query words a snippet looks for, in the query's order (each is a scan of the document). A
 * query holds at most {@link MAX_QUERY_TERMS} terms, but a quoted phrase can hold hundreds of words.
 */
export const MAX_SNIPPET_WORDS = MAX_QUERY_TERMS;

/** Work done making snippets, counted so that tests can check its bounds without timing it. */
export interface SnippetWork {
  /** Documents given a snippet. */
  documents: number;
  /** Query words looked for, summed over documents (at most {@link MAX_SNIPPET_WORDS} each). */
  words: number;
  /** Matches of query words considered, summed over documents (at most {@link MAX_SNIPPET_MATCHES} each). */
  matches: number;
  /** Steps of the densest-window sweep: a match entering or leaving the window (at most 2 per match). */
  steps: number;
}

/** Where a query word occurs in a document. */
export interface WordMatch {
  start: number;
  end: number;
  word: string;
}

/**
 * An excerpt of about {@link SNIPPET_CHARS} characters around the densest run of query words, with those
 * words wrapped in `**`; the opening of the text when no word occurs in it (a title-only match). The work
 * is linear in the document's length and bounded by {@link MAX_SNIPPET_WORDS} and
 * {@link MAX_SNIPPET_MATCHES}; `work`, when given, is added to.
 */
export function makeSnippet(
  text: string,
  queryWords: ReadonlySet<string>,
  work?: SnippetWork,
  chars = SNIPPET_CHARS,
): string {
  const words = queryWords.size > MAX_SNIPPET_WORDS ? new Set([...queryWords].slice(0, MAX_SNIPPET_WORDS)) : queryWords;
  const matches = findWords(text, words, MAX_SNIPPET_MATCHES);
  if (work) {
    work.documents++;
    work.words += words.size;
    work.matches += matches.length;
  }
  return excerptAt(text, matches, matches.length > 0 ? densestWindowStart(matches, chars, work) : undefined, chars);
}

/**
 * The snippet's text for a window that starts at `windowStart` (a match's start; undefined: no match, the
 * opening): a little context before it, cut at word boundaries, the matches in it marked, on one line.
 * Exported for the benchmark's baseline, which chooses the window the old way.
 */
export function excerptAt(
  text: string,
  matches: readonly WordMatch[],
  windowStart: number | undefined,
  chars = SNIPPET_CHARS,
): string {
  let from = 0;
  if (windowStart !== undefined) {
    // Start a little before the first match, at a word boundary, for context.
    const back = text.lastIndexOf(' ', Math.max(0, windowStart - 40));
    from = windowStart <= 40 ? 0 : back < 0 ? 0 : back + 1;
  }
  let to = Math.min(text.length, from + chars);
  if (to < text.length) {
    const space = text.lastIndexOf(' ', to);
    if (space > from) to = space;
  }
  let snippet = '';
  let position = from;
  for (const match of matches) {
    if (match.start < from || match.end > to) continue;
    snippet += `${text.slice(position, match.start)}**${text.slice(match.start, match.end)}**`;
    position = match.end;
  }
  snippet += text.slice(position, to);
  // One line: collapse runs of whitespace (tested first; the replace is the costly part, rarely needed).
  const flat = /\s\s|[^\S ]/.test(snippet) ? snippet.replace(/\s+/g, ' ') : snippet;
  return `${from > 0 ? '… ' : ''}${flat.trim()}${to < text.length ? ' …' : ''}`;
}

/**
 * The start of the match whose window (`width` characters from it) covers the most distinct words; the
 * earliest on ties. Matches are whole words in text order, so they never overlap and their ends rise with
 * their starts: the matches a window covers are a run that only moves forward. One sweep of two pointers,
 * with a count per word, visits each match at most twice (entering the window, leaving it) instead of
 * comparing every pair.
 */
function densestWindowStart(matches: readonly WordMatch[], width: number, work?: SnippetWork): number {
  const counts = new Map<string, number>();
  let distinct = 0;
  let best = -1;
  let bestStart = matches[0]!.start;
  let steps = 0;
  // The window of the match at `first` holds the matches from `first` up to, not including, `end`.
  let end = 0;
  for (let first = 0; first < matches.length; first++) {
    const limit = matches[first]!.start + width;
    for (; end < matches.length && matches[end]!.end <= limit; end++, steps++) {
      const word = matches[end]!.word;
      const count = counts.get(word) ?? 0;
      if (count === 0) distinct++;
      counts.set(word, count + 1);
    }
    if (distinct > best) {
      best = distinct;
      bestStart = matches[first]!.start;
    }
    if (end > first) {
      steps++;
      const word = matches[first]!.word;
      const count = counts.get(word)!;
      if (count === 1) distinct--;
      counts.set(word, count - 1);
    } else {
      // A word longer than the window covers nothing, not even itself; the next window starts after it.
      end = first + 1;
    }
  }
  if (work) work.steps += steps;
  return bestStart;
}

const ASCII = /^[\x00-\x7f]*$/;

/** A letter or digit of (lower-cased) ASCII; false for NaN, the code of a position outside the text. */
function isAsciiWordCharacter(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
}

/** The first `limit` places, in text order, where the query words occur in `text` as whole words (after folding). */
function findWords(text: string, queryWords: ReadonlySet<string>, limit: number): WordMatch[] {
  if (ASCII.test(text)) {
    // The common case, made cheap: lower-casing ASCII keeps offsets, so search the words directly. Each
    // word stops at its `limit`-th match; past the earliest place where a word stopped, some matches may be
    // missing, so only the matches up to there are kept (they include the first `limit` of all).
    const lower = text.toLowerCase();
    const matches: WordMatch[] = [];
    let complete = Number.POSITIVE_INFINITY;
    for (const word of queryWords) {
      if (!ASCII.test(word)) continue;
      let found = 0;
      for (let at = lower.indexOf(word); at >= 0 && found < limit; at = lower.indexOf(word, at + 1)) {
        const end = at + word.length;
        if (!isAsciiWordCharacter(lower.charCodeAt(at - 1)) && !isAsciiWordCharacter(lower.charCodeAt(end))) {
          matches.push({ start: at, end, word });
          if (++found === limit) complete = Math.min(complete, at);
        }
      }
    }
    return matches
      .filter((match) => match.start <= complete)
      .sort((a, b) => a.start - b.start)
      .slice(0, limit);
  }
  const matches: WordMatch[] = [];
  // Prose repeats its words: each distinct one is folded once (folding is Unicode decomposition, the costly part).
  const folded = new Map<string, string>();
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    const token = match[0];
    let word = folded.get(token);
    if (word === undefined) folded.set(token, (word = foldWord(token)));
    if (queryWords.has(word) && matches.push({ start: match.index, end: match.index + token.length, word }) === limit)
      break;
  }
  return matches;
}
