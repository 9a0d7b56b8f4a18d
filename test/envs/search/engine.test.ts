import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { TurngymError } from '../../../src/envs/errors.js';
import { hashDocuments, makeSnippet, openIndex, parseQuery, QueryError, type SearchDocument, toFtsQuery } from '../../../src/envs/search/engine.js';
import { generateKnowledgeBase } from '../../../src/envs/search/kb.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-search-engine-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function index(name: string, documents: SearchDocument[]) {
  return openIndex({ path: join(directory, `${name}.sqlite`), contentHash: hashDocuments(documents), documents: () => documents });
}

const ODD_QUERIES = [
  'NEAR(wilma loranfield, 2)', 'wilma AND NOT', 'title:wilma', '-wilma +born', 'wil*', '^born', '"unclosed phrase', '""', '" "',
  'a "b c" d"', '(((', ')', 'OR OR OR', '{col1 col2}: x', 'born\u0000city', '\u202eevil', 'café naïve', 'ﬁnance', 'Ｗｉｌｍａ',
  '東京 大学', 'emoji 😀 born', '\ud800 lone surrogate', 'x'.repeat(512), 'a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg',
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
    expect(() => toFtsQuery('!?')).toThrow('the query has no words to search for (only spaces, punctuation or symbols); search for names or words, e.g. search("Ravenport mayor")');
  });

  it('yields queries that FTS5 accepts for odd text', () => {
    const database = new Database(':memory:');
    database.exec("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2'); INSERT INTO t VALUES ('wilma born in cafe')");
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
    for (const word of entity.name.split(/\W+/).filter((word) => word.length > 3)) expect(first!.snippet).toContain(`**${word}**`);
  });

  it('ranks exactly as the exhaustive BM25 query for entity names and common words', () => {
    const queries = [
      ...kb.entities.slice(0, 150).map((entity) => entity.name),
      ...kb.entities.slice(0, 40).map((entity) => `${entity.name} ${entity.attributes[Object.keys(entity.attributes)[0]!]}`),
      'records period years', 'city founded mayor', 'works include company', 'born city', '"not to be confused"',
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
    expect(retriever.document('person-3')).toEqual({ id: 'person-3', title: kb.byId.get('person-3')!.name, text: kb.articles.find((a) => a.id === 'person-3')!.text });
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
    const reopened = openIndex({ path, contentHash: hashDocuments(documents), documents: () => ((read = true), documents) });
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
    const attempt = () => openIndex({ path: join(directory, 'dup.sqlite'), contentHash: hashDocuments(duplicated), documents: () => duplicated });
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
