/**
 * Corpora and their indexes, shared within a process: the knowledge base and FTS5 index of a given
 * `(seed, size, distractors)` (or of a given user corpus) are built once, then leased to every env that asks
 * for them, so a pool of 64 envs holds one index. The last env to close releases them.
 *
 * Generated corpora are bounded, since each new `kbSeed` costs memory and disk (a server's clients may ask
 * for any): at most 200,000 articles open at once in a process (about 1.3 KB of memory each), and at most 64
 * index files kept in an index folder (about 1 KB of disk per article), the least recently used deleted
 * first (an index is rebuilt from its seed when it is needed again). `setGeneratedCorpusLimits` (limits.ts)
 * changes both.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileProblem, InvalidKwargsError, TurngymError } from '../../core/errors.js';
import { type Fts5Retriever, hashDocuments, memoryIndex, openIndex, type SearchDocument } from './engine.js';
import { generateKnowledgeBase, KB_VERSION, type KnowledgeBase } from './kb.js';
import { generatedCorpusLimits as limits } from './limits.js';

/** Where generated corpora keep their index files, relative to the working directory (gitignored). */
export const DEFAULT_INDEX_DIRECTORY = '.cache/turngym/search';

/** A corpus with its open index. */
export interface Corpus<Data> {
  retriever: Fts5Retriever;
  /** The knowledge base (generated corpora) or the questions (user corpora). */
  data: Data;
  /** The index file. */
  indexPath: string;
}

/** A corpus held by one env; `release` once, when the env closes. */
export interface Lease<Data> {
  corpus: Corpus<Data>;
  release(): void;
}

type Entry = { corpus: Corpus<unknown>; users: number; articles: number };
const shared = new Map<string, Entry>();

function lease<Data>(key: string, load: () => Corpus<Data>, articles = 0): Lease<Data> {
  let entry = shared.get(key);
  if (!entry) {
    entry = { corpus: load(), users: 0, articles };
    shared.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    corpus: held.corpus as Corpus<Data>,
    release() {
      if (released) return;
      released = true;
      held.users--;
      if (held.users === 0) {
        held.corpus.retriever.close();
        if (shared.get(key) === held) shared.delete(key);
      }
    },
  };
}

/** Number of corpora currently open in this process (for tests and diagnostics). */
export function openCorpusCount(): number {
  return shared.size;
}

export interface GeneratedCorpusOptions {
  seed: number;
  size: number;
  distractors: number;
  /** Folder of the index file; default {@link DEFAULT_INDEX_DIRECTORY} under the working directory. */
  indexDirectory?: string;
}

/** The index file of a generated corpus. */
export function generatedIndexPath(options: GeneratedCorpusOptions): string {
  const directory = resolve(options.indexDirectory ?? DEFAULT_INDEX_DIRECTORY);
  return resolve(
    directory,
    `kb-v${KB_VERSION}-seed${options.seed}-size${options.size}-distractors${options.distractors}.sqlite`,
  );
}

/** Leases the knowledge base and index for these options, generating and indexing them on first use. */
export function leaseGeneratedCorpus(options: GeneratedCorpusOptions): Lease<KnowledgeBase> {
  const indexPath = generatedIndexPath(options);
  checkCapacity(indexPath, options.size);
  return lease(
    indexPath,
    () => {
      const kb = generateKnowledgeBase(options);
      const retriever = openIndex({
        path: indexPath,
        contentHash: hashDocuments(kb.articles),
        documents: () => kb.articles,
      });
      keepRecentIndexes(indexPath);
      return { retriever, data: kb, indexPath };
    },
    options.size,
  );
}

/** Refuses to open one more generated knowledge base past the process's limit of open articles. */
function checkCapacity(key: string, size: number): void {
  if (shared.has(key)) return;
  const open = [...shared.values()].reduce((sum, entry) => sum + entry.articles, 0);
  if (open + size > limits.maxOpenArticles) {
    throw new TurngymError(
      'CAPACITY_REACHED',
      `Generated knowledge bases of ${open} articles are open in this process; ${size} more would pass the limit of ${limits.maxOpenArticles}. Close envs of other kbSeeds or sizes, or reuse one.`,
    );
  }
}

/**
 * Leases a small generated world (one of search/multihop-v0's `worlds`): `kb` indexed in memory, no file, shared
 * by the envs playing an episode in it at the same time and closed when the last one moves on.
 */
export function leaseWorld(
  kb: KnowledgeBase,
  options: Omit<GeneratedCorpusOptions, 'indexDirectory'>,
): Lease<KnowledgeBase> {
  const key = `memory:kb-v${KB_VERSION}-seed${options.seed}-size${options.size}-distractors${options.distractors}`;
  checkCapacity(key, options.size);
  return lease(key, () => ({ retriever: memoryIndex(kb.articles), data: kb, indexPath: ':memory:' }), options.size);
}

/**
 * Marks `indexPath` as just used and deletes the least recently used generated indexes of its folder beyond
 * `maxCachedIndexes`, except those open in this process.
 */
function keepRecentIndexes(indexPath: string): void {
  const now = new Date();
  utimesSync(indexPath, now, now);
  const directory = dirname(indexPath);
  const indexes = readdirSync(directory)
    .filter((name) => /^kb-v\d+-seed\d+-size\d+-distractors[\d.]+\.sqlite$/.test(name))
    .map((name) => join(directory, name))
    .filter((path) => !shared.has(path) && path !== indexPath)
    .map((path) => ({ path, used: statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => a.used - b.used);
  for (const stale of indexes.slice(0, Math.max(0, indexes.length + 1 - limits.maxCachedIndexes))) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${stale.path}${suffix}`, { force: true });
  }
}

/** One question of a user corpus. */
export interface UserQuestion {
  question: string;
  answers: string[];
  /** Ids of documents that support the answer, when the file gives them. */
  supporting: string[];
}

export interface UserCorpusOptions {
  /** JSONL file, one document per line: `{"id": "...", "title": "...", "text": "..."}` (title optional). */
  documents: string;
  /** JSONL file, one question per line: `{"question": "...", "answers": ["..."], "supporting": ["id"]}`. */
  questions: string;
  /** Index file; default: next to the documents file, `<documents>.index.sqlite`. */
  indexPath?: string;
}

/**
 * Leases a user corpus: documents and questions from JSONL, indexed next to the documents file (the index
 * is rebuilt when the file's content hash changes). Bad files are `InvalidKwargsError`s that name the file,
 * the line and what is wrong with it, and never quote the file (it may not be the file the user meant).
 */
export function leaseUserCorpus(envId: string, options: UserCorpusOptions): Lease<UserQuestion[]> {
  const documentsPath = resolve(options.documents);
  const questionsPath = resolve(options.questions);
  const indexPath = resolve(options.indexPath ?? `${documentsPath}.index.sqlite`);
  const documentsFile = { envId, field: 'documents', path: documentsPath };
  const questionsFile = { envId, field: 'questions', path: questionsPath };
  const key = `${indexPath}|${questionsPath}|${stamp(documentsFile)}|${stamp(questionsFile)}`;
  return lease(key, () => {
    const raw = read(documentsFile);
    const documents = parseDocuments(documentsFile, raw.toString('utf8'));
    const questions = parseQuestions(
      questionsFile,
      read(questionsFile).toString('utf8'),
      new Set(documents.map((document) => document.id)),
    );
    const contentHash = createHash('sha256').update(raw).digest('hex');
    const retriever = openIndex({ path: indexPath, contentHash, documents: () => documents });
    return { retriever, data: questions, indexPath };
  });
}

/** A JSONL file named by a kwarg, for errors that name the file and never quote it. */
interface KwargFile {
  envId: string;
  /** The kwarg that named it. */
  field: string;
  /** Its absolute path. */
  path: string;
}

function fileError(file: KwargFile, problem: string): InvalidKwargsError {
  return new InvalidKwargsError(file.envId, [{ path: file.field, message: `${file.path}: ${problem}` }]);
}

/** Size and modification time, so that a changed file is loaded again. */
function stamp(file: KwargFile): string {
  let stats;
  try {
    stats = statSync(file.path);
  } catch (error) {
    throw fileError(file, fileProblem(error));
  }
  if (!stats.isFile()) throw fileError(file, stats.isDirectory() ? 'a folder, not a file' : 'not a regular file');
  return `${stats.size}:${stats.mtimeMs}`;
}

function read(file: KwargFile): Buffer {
  try {
    return readFileSync(file.path);
  } catch (error) {
    throw fileError(file, fileProblem(error));
  }
}

function jsonLines(file: KwargFile, text: string): { line: number; value: Record<string, unknown> }[] {
  const rows: { line: number; value: Record<string, unknown> }[] = [];
  text.split('\n').forEach((content, index) => {
    if (content.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch {
      // JSON.parse's message quotes the line: say only where it is.
      throw fileError(file, `line ${index + 1} is not JSON (one JSON object per line)`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw fileError(file, `line ${index + 1} must be a JSON object`);
    rows.push({ line: index + 1, value: value as Record<string, unknown> });
  });
  if (rows.length === 0) throw fileError(file, 'the file has no entries (one JSON object per line)');
  return rows;
}

function parseDocuments(file: KwargFile, text: string): SearchDocument[] {
  const seen = new Map<string, number>();
  return jsonLines(file, text).map(({ line, value }) => {
    const bad = (message: string) => fileError(file, `line ${line}: ${message}`);
    const id = typeof value.id === 'number' ? String(value.id) : value.id;
    if (typeof id !== 'string' || id.trim() === '') throw bad('"id" must be a non-empty string or a number');
    if (seen.has(id)) throw bad(`its id is also the id of line ${seen.get(id)}; document ids must be unique`);
    seen.set(id, line);
    if (typeof value.text !== 'string') throw bad('"text" must be a string');
    if (value.title !== undefined && typeof value.title !== 'string') throw bad('"title" must be a string when given');
    return { id, title: (value.title as string | undefined) ?? id, text: value.text };
  });
}

function parseQuestions(file: KwargFile, text: string, ids: ReadonlySet<string>): UserQuestion[] {
  return jsonLines(file, text).map(({ line, value }) => {
    const bad = (message: string) => fileError(file, `line ${line}: ${message}`);
    if (typeof value.question !== 'string' || value.question.trim() === '')
      throw bad('"question" must be a non-empty string');
    const answers = value.answers;
    if (
      !Array.isArray(answers) ||
      answers.length === 0 ||
      !answers.every((answer) => typeof answer === 'string' && answer.trim() !== '')
    ) {
      throw bad('"answers" must be a non-empty array of non-empty strings');
    }
    const supporting = value.supporting ?? [];
    if (!Array.isArray(supporting) || !supporting.every((id) => typeof id === 'string' || typeof id === 'number')) {
      throw bad('"supporting" must be an array of document ids when given');
    }
    const supportingIds = supporting.map(String);
    const missing = supportingIds.filter((id) => !ids.has(id));
    if (missing.length > 0)
      throw bad(`"supporting" names ${missing.length} id(s) that the documents file does not have`);
    return { question: value.question, answers: answers as string[], supporting: supportingIds };
  });
}
