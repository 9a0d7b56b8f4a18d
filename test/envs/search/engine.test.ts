import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { TurngymError } from '../../../src/core/errors.js';
import { quadraticSnippet } from '../../../bench/search-snippet-baseline.js';
import {
  hashDocuments,
  makeSnippet,
  MAX_SNIPPET_MATCHES,
  MAX_SNIPPET_WORDS,
  openIndex,
  parseQuery,
  QueryError,
  type SearchDocument,
  type SnippetWork,
  toFtsQuery,
} from '../../../src/envs/search/engine.js';
import { generateKnowledgeBase, type KnowledgeBase } from '../../../src/envs/search/kb.js';
import { Rng } from '../../../src/core/rng.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-search-engine-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function index(name: string, documents: SearchDocument[]) {
  return openIndex({
    path: join(directory, `${name}.sqlite`),
    contentHash: hashDocuments(documents),
    documents: () => documents,
  });
}

const ODD_QUERIES = [
  'NEAR(wilma loranfield, 2)',
  'wilma AND NOT',
  'title:wilma',
  '-wilma +born',
  'wil*',
  '^born',
  '"unclosed phrase',
  '""',
  '" "',
  'a "b c" d"',
  '(((',
  ')',
  'OR OR OR',
  '{col1 col2}: x',
  'born\u0000city',
  '\u202eevil',
  'café naïve',
  'ﬁnance',
  'Ｗｉｌｍａ',
  '東京 大学',
  'emoji 😀 born',
  '\ud800 lone surrogate',
  'x'.repeat(512),
  'a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg',
];

describe('toFtsQuery', () => {
  it('quotes every word so agent text is never FTS5 syntax', () => {
    expect(toFtsQuery('Wilma Loranfield')).toBe('"wilma" OR "loranfield"');
    expect(toFtsQuery('NEAR(a b) AND c* -d:e')).toBe('"near" OR "b" OR "c" OR "d" OR "e"');
    expect(toFtsQuery('"upper nevholt" mayor')).toBe('"upper nevholt" OR "mayor"');
    expect(toFtsQuery('Café')).toBe('"cafe"');
  });

  it('drops stopwords unless nothing else is left', () => {
    expect(toFtsQuery('who is the mayor of Ravenport')).toBe('"mayor" OR "ravenport"');
    expect(toFtsQuery('the who')).toBe('"the" OR "who"');
  });

  it('keeps at most 32 distinct terms', () => {
    expect(parseQuery(Array.from({ length: 50 }, (_, i) => `word${i} word${i}`).join(' ')).terms).toHaveLength(32);
  });

  it('throws a QueryError when no word is left', () => {
    for (const text of ['', '   ', '***', '😀', '"', '-:^()']) {
      expect(() => toFtsQuery(text)).toThrow(QueryError);
    }
    expect(() => toFtsQuery('!?')).toThrow(
      'the query has no words to search for (only spaces, punctuation or symbols); search for names or words, e.g. search("Ravenport mayor")',
    );
  });

  it('yields queries that FTS5 accepts for odd text', () => {
    const database = new Database(':memory:');
    database.exec(
      "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2'); INSERT INTO t VALUES ('wilma born in cafe')",
    );
    const statement = database.prepare('SELECT count(*) FROM t WHERE t MATCH ?');
    let accepted = 0;
    for (const text of ODD_QUERIES) {
      let query: string;
      try {
        query = toFtsQuery(text);
      } catch (error) {
        expect(error).toBeInstanceOf(QueryError);
        continue;
      }
      expect(() => statement.get(query), text).not.toThrow();
      accepted++;
    }
    expect(accepted).toBeGreaterThan(ODD_QUERIES.length - 6);
    expect(statement.pluck().get(toFtsQuery('CAFÉ'))).toBe(1);
    database.close();
  });
});

describe('Fts5Retriever', () => {
  const kb = generateKnowledgeBase({ seed: 11, size: 4000 });
  const retriever = index('kb', kb.articles);

  it('finds an entity by its name first, with the matched words marked in the snippet', () => {
    const entity = kb.entities[17]!;
    const [first] = retriever.search(entity.name, 5);
    expect(first).toMatchObject({ id: entity.id, title: entity.name });
    for (const word of entity.name.split(/\W+/).filter((word) => word.length > 3))
      expect(first!.snippet).toContain(`**${word}**`);
  });

  it('ranks exactly as the exhaustive BM25 query for entity names and common words', () => {
    const queries = [
      ...kb.entities.slice(0, 150).map((entity) => entity.name),
      ...kb.entities
        .slice(0, 40)
        .map((entity) => `${entity.name} ${entity.attributes[Object.keys(entity.attributes)[0]!]}`),
      'records period years',
      'city founded mayor',
      'works include company',
      'born city',
      '"not to be confused"',
    ];
    for (const query of queries) {
      for (const k of [1, 5, 20]) {
        const fast = retriever.search(query, k).map((hit) => hit.score.toFixed(9));
        const exhaustive = retriever.rankExhaustive(query, k).map((row) => row.score.toFixed(9));
        expect(fast, query).toEqual(exhaustive);
      }
    }
  });

  it('survives odd query text (syntax characters, Unicode) without throwing anything but QueryError', () => {
    for (const text of ODD_QUERIES) {
      try {
        expect(Array.isArray(retriever.search(text, 5))).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(QueryError);
      }
    }
  });

  it('breaks ties by document id', () => {
    const same = ['c', 'a', 'b', 'e', 'd'].map((id) => ({ id, title: 'Twin', text: 'identical body text' }));
    const twins = index('ties', same);
    expect(twins.search('identical', 3).map((hit) => hit.id)).toEqual(['a', 'b', 'c']);
    expect(twins.search('twin', 5).map((hit) => hit.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    twins.close();
  });

  it('returns documents by id', () => {
    expect(retriever.document('person-3')).toEqual({
      id: 'person-3',
      title: kb.byId.get('person-3')!.name,
      text: kb.articles.find((a) => a.id === 'person-3')!.text,
    });
    expect(retriever.document('no-such-id')).toBeUndefined();
  });
});

describe('openIndex', () => {
  const documents = [
    { id: 'a', title: 'Alpha', text: 'first document about rivers' },
    { id: 'b', title: 'Beta', text: 'second document about mountains' },
  ];

  it('reuses the index file while the corpus is unchanged and rebuilds it when it changes', () => {
    const path = join(directory, 'reuse.sqlite');
    openIndex({ path, contentHash: hashDocuments(documents), documents: () => documents }).close();
    const built = statSync(path).mtimeMs;
    let read = false;
    const reopened = openIndex({
      path,
      contentHash: hashDocuments(documents),
      documents: () => ((read = true), documents),
    });
    expect(read).toBe(false);
    expect(statSync(path).mtimeMs).toBe(built);
    reopened.close();
    const changed = [...documents, { id: 'c', title: 'Gamma', text: 'third document about lakes' }];
    const rebuilt = openIndex({ path, contentHash: hashDocuments(changed), documents: () => changed });
    expect(rebuilt.documentCount).toBe(3);
    expect(rebuilt.search('lakes', 5).map((hit) => hit.id)).toEqual(['c']);
    rebuilt.close();
  });

  it('refuses duplicate ids with a typed error', () => {
    const duplicated = [...documents, { id: 'a', title: 'Again', text: 'x' }];
    const attempt = () =>
      openIndex({
        path: join(directory, 'dup.sqlite'),
        contentHash: hashDocuments(duplicated),
        documents: () => duplicated,
      });
    expect(attempt).toThrow(TurngymError);
    expect(attempt).toThrow('two documents have the same id; document ids must be unique');
  });

  it('replaces a file that is not an index', () => {
    const path = join(directory, 'junk.sqlite');
    new Database(path).exec('CREATE TABLE unrelated(x)');
    const retriever = openIndex({ path, contentHash: hashDocuments(documents), documents: () => documents });
    expect(retriever.documentCount).toBe(2);
    retriever.close();
  });
});

describe('makeSnippet', () => {
  it('centres on the densest run of query words and marks them', () => {
    const text = `${'Filler words here. '.repeat(30)}Wilma Loranfield was born in Ravenport. ${'More filler text. '.repeat(30)}`;
    const snippet = makeSnippet(text, new Set(['wilma', 'ravenport']));
    expect(snippet).toContain('**Wilma** Loranfield was born in **Ravenport**.');
    expect(snippet.startsWith('… ')).toBe(true);
    expect(snippet.endsWith(' …')).toBe(true);
    expect(snippet.length).toBeLessThan(240);
  });

  it('shows the opening when no word matches (a title match)', () => {
    expect(makeSnippet('Short body.', new Set(['absent']))).toBe('Short body.');
  });
});

/** Documents of about `chars` characters each, made of consecutive articles (real prose, full of stopwords). */
function longDocuments(
  kb: KnowledgeBase,
  count: number,
  chars: number,
  dress: (text: string) => string = (text) => text,
): SearchDocument[] {
  const documents: SearchDocument[] = [];
  let article = 0;
  for (let index = 0; index < count; index++) {
    let text = '';
    while (text.length < chars) text += `${dress(kb.articles[article++ % kb.articles.length]!.text)}\n\n`;
    documents.push({ id: `long-${index}`, title: `Long document ${index}`, text });
  }
  return documents;
}

function noWork(): SnippetWork {
  return { documents: 0, words: 0, matches: 0, steps: 0 };
}

/**
 * Issue 35, item 8: the snippet maker compared every pair of matches, so a query of common words over long
 * documents took seconds (1.8 s for 20 documents of 100 KB). The bounds are checked by counting the work,
 * never by timing it.
 */
describe('snippet work is linear in the matches and bounded per document', () => {
  const kb = generateKnowledgeBase({ seed: 5, size: 2000 });
  const STOPWORDS = ['the', 'of', 'a', 'and', 'in', 'by'];

  it('makes the snippets of the attack query (20 documents of 100 KB) in one sweep over at most MAX_SNIPPET_MATCHES matches each', () => {
    const retriever = index('long', longDocuments(kb, 20, 100_000));
    const hits = retriever.search(STOPWORDS.join(' '), 20);
    expect(hits).toHaveLength(20);
    const work = retriever.snippetStatistics;
    expect(work.documents).toBe(20);
    expect(work.words).toBe(20 * STOPWORDS.length);
    // Each document has thousands of matches: the limit is what bounds the work.
    expect(work.matches).toBe(20 * MAX_SNIPPET_MATCHES);
    // Every match enters the window once and leaves it at most once.
    expect(work.steps).toBeLessThanOrEqual(2 * work.matches);
    for (const hit of hits) expect(hit.snippet).toMatch(/\*\*(the|of|a|and|in|by)\*\*/i);
    retriever.close();
  });

  it('sweeps at most twice the matches, for any number of matches up to the limit', () => {
    for (const repeats of [1, 10, 100, 400]) {
      // Each sentence has 7 matches of the 6 words (two of "the"); the densest window is at the start.
      const text = 'The rise of a city and the fall in trade by sea. '.repeat(repeats);
      const work = noWork();
      const snippet = makeSnippet(text, new Set(STOPWORDS), work);
      const matches = Math.min(7 * repeats, MAX_SNIPPET_MATCHES);
      expect(work).toEqual({ documents: 1, words: 6, matches, steps: work.steps });
      expect(work.steps).toBeGreaterThanOrEqual(matches);
      expect(work.steps).toBeLessThanOrEqual(2 * matches);
      expect(snippet.startsWith('**The** rise **of** **a** city **and** **the** fall **in** trade **by** sea.')).toBe(
        true,
      );
    }
  });

  it('considers the first MAX_SNIPPET_MATCHES matches in text order, whichever words they are', () => {
    // "alpha" fills the opening; "omega" comes only after the limit; "beta" and "gamma" throughout.
    const opening = 'alpha '.repeat(MAX_SNIPPET_MATCHES);
    const text = `${opening}beta gamma ${'filler '.repeat(100)}omega beta gamma ${'beta '.repeat(3 * MAX_SNIPPET_MATCHES)}`;
    const work = noWork();
    const snippet = makeSnippet(text, new Set(['omega', 'beta', 'gamma', 'alpha']), work);
    expect(work.matches).toBe(MAX_SNIPPET_MATCHES);
    // The densest window among the first matches is all alpha (one distinct word): the earliest such.
    expect(snippet.startsWith('**alpha** **alpha**')).toBe(true);
    // Without the opening the same words give the window with three of them.
    expect(makeSnippet(text.slice(opening.length), new Set(['omega', 'beta', 'gamma']))).toContain(
      '**omega** **beta** **gamma**',
    );
  });

  it('looks for at most MAX_SNIPPET_WORDS distinct words, however many a query of phrases holds', () => {
    // A 512-character query of two-letter words in quotes: one phrase term of about 170 words.
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const pairs = [...letters].flatMap((first) => [...letters].map((second) => first + second)).slice(0, 170);
    const query = `"${pairs.join(' ')}"`.slice(0, 512);
    const words = new Set(parseQuery(query).terms.flatMap((term) => term.words));
    expect(words.size).toBeGreaterThan(MAX_SNIPPET_WORDS);
    const text = `${pairs.join(' ')} `.repeat(600);
    const work = noWork();
    makeSnippet(text, words, work);
    expect(work.words).toBe(MAX_SNIPPET_WORDS);
    expect(work.matches).toBe(MAX_SNIPPET_MATCHES);
    expect(work.steps).toBeLessThanOrEqual(2 * MAX_SNIPPET_MATCHES);
  });

  it('bounds documents that are not ASCII, words longer than the snippet and text without spaces', () => {
    const accented = longDocuments(kb, 1, 100_000, (text) => text.replaceAll('e', 'é'))[0]!.text;
    const cases: [string, string[]][] = [
      [accented, STOPWORDS],
      [`${'x'.repeat(300)} `.repeat(300), ['x'.repeat(300)]],
      ['the'.repeat(30_000), ['the']],
      ['the,of;a.and-in/by|'.repeat(5_000), STOPWORDS],
      [`${'東京 '.repeat(20_000)}the`, ['東京', 'the']],
    ];
    for (const [text, queryWords] of cases) {
      const work = noWork();
      const snippet = makeSnippet(text, new Set(queryWords), work);
      expect(work.matches).toBeLessThanOrEqual(MAX_SNIPPET_MATCHES);
      expect(work.steps).toBeLessThanOrEqual(2 * work.matches);
      // About 200 characters of the text, with the matches marked.
      expect(snippet.replaceAll('**', '').length).toBeLessThan(210);
    }
  });

  it('picks the same excerpt as the pairwise comparison it replaces', () => {
    const prose = longDocuments(kb, 1, 200_000)[0]!.text;
    const rng = Rng.fromSeed(35);
    let compared = 0;
    for (let round = 0; round < 400; round++) {
      const start = rng.int(0, prose.length - 6000);
      let text = prose.slice(start, start + rng.int(50, 6000));
      // Some texts take the path for text that is not ASCII.
      if (round % 4 === 0) text = text.replaceAll('o', 'ö');
      const present = text.toLowerCase().match(/[a-z]+/g) ?? [];
      const words = new Set([
        ...rng.sample(present, Math.min(present.length, rng.int(1, 4))),
        ...rng.sample(STOPWORDS, rng.int(0, 3)),
      ]);
      expect(makeSnippet(text, words), `${JSON.stringify([...words])} in ${JSON.stringify(text.slice(0, 80))}`).toBe(
        quadraticSnippet(text, words),
      );
      compared++;
    }
    expect(compared).toBe(400);
  });
});
