import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/agent.js';
import { OracleAgent, RandomAgent } from '../../../src/agent/baselines.js';
import { checkEnv } from '../../../src/envs/check.js';
import type { Env, StepResult } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import { openCorpusCount } from '../../../src/envs/search/corpus.js';
import { setGeneratedCorpusLimits } from '../../../src/envs/search/limits.js';
import { paginate } from '../../../src/envs/search/env.js';
import { exactMatch, normalizeAnswer, tokenF1 } from '../../../src/envs/search/verify.js';
import '../../../src/envs/builtin.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-search-env-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const SMALL = { size: 600, indexDirectory: join(directory, 'index') };

async function errorOf(env: Env, action: Parameters<Env['step']>[0]): Promise<StepResult['info']['error']> {
  const result = await env.step(action);
  expect(result.terminated).toBe(false);
  expect(result.observation.text).toBe(`Error: ${result.info.error?.message}`);
  return result.info.error;
}

describe('search/multihop-v0', () => {
  it('passes checkEnv', async () => {
    const report = await checkEnv(await make('search/multihop-v0', SMALL));
    expect(report.failures).toEqual([]);
  });

  it('is solved by the oracle on every task, 1 to 4 hops, over several knowledge bases', async () => {
    for (const kbSeed of [0, 1]) {
      for (let hops = 1; hops <= 4; hops++) {
        const env = await make('search/multihop-v0', {
          ...SMALL,
          size: kbSeed === 0 ? 600 : 3000,
          kbSeed,
          difficulty: hops,
          distractors: 0.5,
        });
        for (let seed = 0; seed < 40; seed++) {
          const transcript = await runEpisode(env, new OracleAgent(), { seed });
          expect(transcript.success, `kb ${kbSeed}, ${hops} hops, seed ${seed}`).toBe(true);
          expect(transcript.return).toBe(1);
          expect(transcript.turns.length).toBeLessThanOrEqual(2 * hops + 1 + 2);
        }
        await env.close();
      }
    }
  });

  it('never shows the ground truth in the first observation', async () => {
    const env = await make('search/multihop-v0', SMALL);
    for (let seed = 0; seed < 300; seed++) {
      const { observation } = await env.reset({ seed, options: { difficulty: 1 + (seed % 4) } });
      const truth = normalizeAnswer(env.groundTruth());
      expect(` ${normalizeAnswer(observation.text)} `, `seed ${seed}`).not.toContain(` ${truth} `);
    }
    await env.close();
  });

  it('asks the question without repeating the tools, which the spec carries', async () => {
    const env = await make('search/multihop-v0', SMALL);
    const { observation } = await env.reset({ seed: 3 });
    expect(observation.text).toMatch(/^Answer the question by searching a collection of \d+ documents\.\nQuestion: /);
    for (const tool of env.spec.tools) expect(observation.text).not.toContain(tool.description);
    expect(env.spec.tools.map((tool) => tool.name)).toEqual(['search', 'open', 'answer']);
    await env.close();
  });

  it('builds the knowledge base and index once for many envs and releases them when the last closes', async () => {
    const before = openCorpusCount();
    const envs = await Promise.all(
      Array.from({ length: 32 }, () => make('search/multihop-v0', { ...SMALL, kbSeed: 77 })),
    );
    expect(openCorpusCount()).toBe(before + 1);
    const resets = await Promise.all(envs.map((env, index) => env.reset({ seed: 1000 + index })));
    expect(new Set(resets.map((reset) => reset.observation.text)).size).toBeGreaterThan(20);
    await Promise.all(envs.map((env) => env.close()));
    expect(openCorpusCount()).toBe(before);
  });

  it('gives the same question for the same seed and different questions for different seeds', async () => {
    const env = await make('search/multihop-v0', SMALL);
    const first = (await env.reset({ seed: 9 })).observation.text;
    expect((await env.reset({ seed: 9 })).observation.text).toBe(first);
    expect((await env.reset({ seed: 10 })).observation.text).not.toBe(first);
    await env.close();
  });

  it("reports what each question asks for as the task's kind", async () => {
    const env = await make('search/multihop-v0', SMALL);
    const kinds = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const { info } = await env.reset({ seed });
      expect(info.kind).toMatch(/^[a-z]+\.[a-zA-Z]+$/); // the last entity's kind and the field asked, e.g. person.birthplace
      kinds.add(info.kind!);
      expect((await env.reset({ seed })).info.kind).toBe(info.kind);
    }
    expect(kinds.size).toBeGreaterThan(3);
    await env.close();
  });

  it('rewards token F1 by default and exact match on request; success is exact match', async () => {
    const env = await make('search/multihop-v0', SMALL);
    await env.reset({ seed: 4, options: { difficulty: 1 } });
    const truth = env.groundTruth();
    const partial = await env.step({ tool: 'answer', args: { text: `${truth} and something else` } });
    expect(partial.terminated).toBe(true);
    expect(partial.info.success).toBe(false);
    expect(partial.reward).toBeCloseTo(tokenF1(`${truth} and something else`, [truth]));
    expect(partial.reward).toBeGreaterThan(0);
    expect(partial.observation.text).not.toContain(`"${truth}".`);
    await env.reset({ seed: 4, options: { difficulty: 1 } });
    const right = await env.step({ tool: 'answer', args: { text: ` the ${truth.toUpperCase()}!` } });
    expect(right).toMatchObject({ reward: 1, terminated: true, info: { success: true, exact_match: 1, f1: 1 } });
    await env.close();

    const strict = await make('search/multihop-v0', { ...SMALL, reward: 'exact' });
    await strict.reset({ seed: 4, options: { difficulty: 1 } });
    expect((await strict.step({ tool: 'answer', args: { text: `${truth} and something else` } })).reward).toBe(0);
    await strict.close();
  });

  describe('bad input', () => {
    it('answers empty and whitespace queries with an error observation', async () => {
      const env = await make('search/multihop-v0', SMALL);
      await env.reset({ seed: 0 });
      for (const query of ['', '   ', '\n\t']) {
        expect(await errorOf(env, { tool: 'search', args: { query } })).toEqual({
          code: 'TOOL_ERROR',
          message: 'The query is empty; search for names or words, e.g. search("Ravenport mayor").',
        });
      }
      expect((await errorOf(env, 'search("")'))?.code).toBe('TOOL_ERROR');
      await env.close();
    });

    it('refuses queries over 512 characters', async () => {
      const env = await make('search/multihop-v0', SMALL);
      await env.reset({ seed: 0 });
      expect(await errorOf(env, { tool: 'search', args: { query: 'x'.repeat(513) } })).toEqual({
        code: 'INVALID_ARGS',
        message:
          'Invalid arguments for search: query: a query has at most 512 characters; search for the key names or words. Usage: search(query, k?).',
      });
      const exactly = await env.step({ tool: 'search', args: { query: `born ${'x'.repeat(507)}` } });
      expect(exactly.info.error).toBeUndefined();
      await env.close();
    });

    it('treats query syntax characters and odd Unicode as text', async () => {
      const env = await make('search/multihop-v0', SMALL, { maxTurns: 50 });
      await env.reset({ seed: 0 });
      for (const query of [
        'NEAR(born city)',
        'born AND OR NOT',
        'born*',
        '-born',
        'title:born',
        '"born',
        'born"city"',
        '(born))',
        '^born',
        'bórn',
        'Ｂｏｒｎ',
        'born\u0000\u202e😀',
        'born \ud800',
      ]) {
        const result = await env.step({ tool: 'search', args: { query } });
        expect(result.info.error, query).toBeUndefined();
        expect(result.observation.text, query).toMatch(/^(Results for|No documents match)/);
      }
      for (const query of ['***', '😀😀', '"()"', '-:^']) {
        const error = await errorOf(env, { tool: 'search', args: { query } });
        expect(error?.message).toBe(
          `Cannot search for ${JSON.stringify(query)}: the query has no words to search for (only spaces, punctuation or symbols); search for names or words, e.g. search("Ravenport mayor").`,
        );
      }
      await env.close();
    });

    it('answers open of an unknown id with an error and a hint', async () => {
      const env = await make('search/multihop-v0', SMALL, { maxTurns: 50 });
      await env.reset({ seed: 0 });
      expect(await errorOf(env, { tool: 'open', args: { id: 'person-99999' } })).toEqual({
        code: 'TOOL_ERROR',
        message:
          "No document has the id 'person-99999'. Copy an id exactly as a search result shows it in brackets (without the brackets). Ids look like 'organisation-0'; search first to find them.",
      });
      const byTitle = await errorOf(env, { tool: 'open', args: { id: await titleOf(env, 'place-3') } });
      expect(byTitle?.message).toContain('Searching for that text finds [place-3]');
      expect((await errorOf(env, { tool: 'open', args: { id: '***' } }))?.message).toBe(
        "No document has the id '***'. Copy an id exactly as a search result shows it in brackets (without the brackets). Ids look like 'organisation-0'; search first to find them.",
      );
      const bracketed = await env.step({ tool: 'open', args: { id: ' [place-3] ' } });
      expect(bracketed.observation.text.startsWith('[place-3] ')).toBe(true);
      expect((await errorOf(env, { tool: 'open', args: { id: 'place-3', page: 2 } }))?.message).toBe(
        "'place-3' has 1 page; ask for page 1.",
      );
      await env.close();
    });

    it('refuses k out of range', async () => {
      const env = await make('search/multihop-v0', SMALL);
      await env.reset({ seed: 0 });
      for (const k of [0, 21, -3]) {
        expect(await errorOf(env, { tool: 'search', args: { query: 'born', k } })).toEqual({
          code: 'INVALID_ARGS',
          message: 'Invalid arguments for search: k: k must be from 1 to 20. Usage: search(query, k?).',
        });
      }
      expect((await errorOf(env, 'search("born", k=2.5)'))?.code).toBe('INVALID_ARGS');
      const twenty = await env.step('search("born", k=20)');
      expect(twenty.observation.text.split('\n').filter((line) => /^\d+\. \[/.test(line))).toHaveLength(20);
      await env.close();
    });

    it('answers an empty answer with an error and keeps the episode going', async () => {
      const env = await make('search/multihop-v0', SMALL);
      await env.reset({ seed: 0 });
      expect(await errorOf(env, 'answer("  ")')).toEqual({
        code: 'TOOL_ERROR',
        message: 'The answer is empty; give a short phrase, e.g. answer("Ravenport").',
      });
      await env.close();
    });
  });

  it('reports an index folder it cannot create as a typed infrastructure error', async () => {
    const file = join(directory, 'a-file');
    writeFileSync(file, 'not a folder');
    const attempt = make('search/multihop-v0', { size: 40, indexDirectory: join(file, 'index') });
    await expect(attempt).rejects.toMatchObject({ code: 'ENV_FAILURE' });
    await expect(make('search/multihop-v0', { size: 40, indexDirectory: join(file, 'index') })).rejects.toThrow(
      `Cannot build the search index at ${join(file, 'index')}/`,
    );
  });

  it('rejects bad kwargs by name', async () => {
    await expect(make('search/multihop-v0', { size: 10 })).rejects.toThrow('size');
    await expect(make('search/multihop-v0', { hops: 2 })).rejects.toThrow(
      "unknown argument; 'search/multihop-v0' accepts 'difficulty', 'size', 'distractors', 'kbSeed', 'worlds', 'reward', 'pageChars', 'results', 'snippetChars', 'indexDirectory'",
    );
  });

  it('lets a random agent play without crashing', async () => {
    const env = await make('search/multihop-v0', SMALL);
    for (let seed = 0; seed < 5; seed++) {
      const transcript = await runEpisode(env, new RandomAgent(seed), { seed });
      expect(transcript.terminated || transcript.truncated).toBe(true);
    }
    await env.close();
  });
});

async function titleOf(env: Env, id: string): Promise<string> {
  const opened = await env.step({ tool: 'open', args: { id } });
  return opened.observation.text.split('\n')[0]!.replace(`[${id}] `, '');
}

describe('search/corpus-v0', () => {
  const documentsPath = join(directory, 'docs.jsonl');
  const questionsPath = join(directory, 'questions.jsonl');
  const long = Array.from({ length: 120 }, (_, i) => `Sentence ${i} of a long report.`).join(' ');
  writeFileSync(
    documentsPath,
    [
      {
        id: 'd1',
        title: 'Rivers of Estmark',
        text: 'The longest river of Estmark is the Vell, which flows into the Cold Sea.',
      },
      {
        id: 2,
        title: 'The Cold Sea',
        text: 'The Cold Sea borders Estmark to the north. Its largest port is Hallowmouth.',
      },
      { id: 'd3', text: `${long} The report concludes that the harbour master is Ida Venn.` },
    ]
      .map((line) => JSON.stringify(line))
      .join('\n'),
  );
  writeFileSync(
    questionsPath,
    [
      {
        question: 'What is the largest port on the sea that the longest river of Estmark flows into?',
        answers: ['Hallowmouth'],
        supporting: ['d1', '2'],
      },
      {
        question: 'Who is the harbour master according to the long report?',
        answers: ['Ida Venn', 'I. Venn'],
        supporting: ['d3'],
      },
    ]
      .map((line) => JSON.stringify(line))
      .join('\n'),
  );
  const kwargs = { documents: documentsPath, questions: questionsPath, pageChars: 500 };

  it('passes checkEnv, and its oracle reads paged documents to the answer', async () => {
    expect((await checkEnv(await make('search/corpus-v0', kwargs))).failures).toEqual([]);
    const env = await make('search/corpus-v0', kwargs);
    const seen = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const transcript = await runEpisode(env, new OracleAgent(), { seed });
      expect(transcript.success).toBe(true);
      seen.add(env.groundTruth());
    }
    expect(seen).toEqual(new Set(['Hallowmouth', 'Ida Venn']));
    await env.close();
  });

  it('pages long documents and keeps the index next to the corpus, reused while it is unchanged', async () => {
    const env = await make('search/corpus-v0', kwargs);
    await env.reset({ seed: 0 });
    const first = await env.step('open("d3")');
    expect(first.observation.text).toMatch(/^\[d3\] d3 \(page 1 of \d+\)\n/);
    expect(first.observation.text).toContain('(next: open("d3", page=2))');
    const indexPath = `${documentsPath}.index.sqlite`;
    const built = statSync(indexPath).mtimeMs;
    await env.close();
    const again = await make('search/corpus-v0', kwargs);
    expect(statSync(indexPath).mtimeMs).toBe(built);
    await again.reset({ seed: 0 });
    expect((await again.step('search("harbour master")')).observation.text).toContain('[d3] d3');
    await again.close();
  });

  it('names the file and line of bad corpus data, and never quotes the file', async () => {
    const bad = join(directory, 'bad.jsonl');
    writeFileSync(bad, '{"id": "x", "text": "fine"}\n{"id": "x", "text": "again"}\n');
    await expect(make('search/corpus-v0', { ...kwargs, documents: bad })).rejects.toThrow(
      `documents: ${bad}: line 2: its id is also the id of line 1; document ids must be unique`,
    );
    writeFileSync(bad, '{"question": "q?", "answers": []}\n');
    await expect(make('search/corpus-v0', { ...kwargs, questions: bad })).rejects.toThrow(
      `questions: ${bad}: line 1: "answers" must be a non-empty array of non-empty strings`,
    );
    writeFileSync(bad, '{"question": "q?", "answers": ["a"], "supporting": ["nope"]}\n');
    await expect(make('search/corpus-v0', { ...kwargs, questions: bad })).rejects.toThrow(
      `questions: ${bad}: line 1: "supporting" names 1 id(s) that the documents file does not have`,
    );
    writeFileSync(bad, 'root:secret-hash:19000:0:99999:7:::\n');
    const error = (await make('search/corpus-v0', { ...kwargs, documents: bad }).catch(
      (thrown: unknown) => thrown,
    )) as Error;
    expect(error.message).toContain(`documents: ${bad}: line 1 is not JSON (one JSON object per line)`);
    expect(error.message).not.toMatch(/root|secret/);
    await expect(make('search/corpus-v0', { ...kwargs, documents: join(directory, 'missing.jsonl') })).rejects.toThrow(
      `${join(directory, 'missing.jsonl')}: no such file`,
    );
    await expect(make('search/corpus-v0', { ...kwargs, documents: directory })).rejects.toThrow(
      `${directory}: a folder, not a file`,
    );
  });
});

describe('SQuAD-style verification', () => {
  it('normalises case, punctuation, articles and whitespace', () => {
    expect(normalizeAnswer('  The  Cold-Sea!  ')).toBe('coldsea');
    expect(normalizeAnswer('An Apple, a day')).toBe('apple day');
    expect(exactMatch('the hallowmouth.', ['Hallowmouth'])).toBe(1);
    expect(exactMatch('Hallow mouth', ['Hallowmouth'])).toBe(0);
  });

  it('computes token F1 against the best answer', () => {
    expect(tokenF1('Ida Venn', ['I. Venn', 'Ida Venn'])).toBe(1);
    expect(tokenF1('Venn', ['Ida Venn'])).toBeCloseTo(2 / 3);
    expect(tokenF1('nothing', ['Ida Venn'])).toBe(0);
    expect(tokenF1('the', ['a'])).toBe(1);
  });
});

describe('paginate', () => {
  it('cuts at whitespace and loses nothing', () => {
    const text = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const pages = paginate(text, 200);
    expect(pages.every((page) => page.length <= 200)).toBe(true);
    expect(pages.join(' ')).toBe(text);
    expect(paginate('x'.repeat(450), 200)).toEqual(['x'.repeat(200), 'x'.repeat(200), 'x'.repeat(50)]);
  });
});

describe('generated knowledge bases: bounds on memory and disk', () => {
  const folder = mkdtempSync(join(tmpdir(), 'turngym-kb-limits-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('refuses a knowledge base past the open-articles bound, and keeps only the most recently used index files', async () => {
    const previous = setGeneratedCorpusLimits({ maxOpenArticles: 200, maxCachedIndexes: 3 });
    const envs: Env[] = [];
    try {
      // 160 articles open: a fifth knowledge base of 40 would pass 200 (each new kbSeed costs memory).
      for (let kbSeed = 1; kbSeed <= 4; kbSeed++)
        envs.push(await make('search/multihop-v0', { size: 40, kbSeed, indexDirectory: folder }));
      await expect(make('search/multihop-v0', { size: 41, kbSeed: 5, indexDirectory: folder })).rejects.toMatchObject({
        code: 'CAPACITY_REACHED',
        message:
          'Generated knowledge bases of 160 articles are open in this process; 41 more would pass the limit of 200. Close envs of other kbSeeds or sizes, or reuse one.',
      });
      // The same knowledge base again is shared, not opened twice.
      const again = await make('search/multihop-v0', { size: 40, kbSeed: 4, indexDirectory: folder });
      await again.close();
      for (const env of envs.splice(0)) await env.close();
      // Disk: ten kbSeeds one after another leave at most three index files, the latest ones.
      for (let kbSeed = 10; kbSeed < 20; kbSeed++) {
        const env = await make('search/multihop-v0', { size: 40, kbSeed, indexDirectory: folder });
        await env.reset({ seed: 0 });
        await env.close();
      }
      const seeds = readdirSync(folder).map((name) => Number(/-seed(\d+)-/.exec(name)?.[1]));
      expect(seeds.sort((x, y) => x - y)).toEqual([17, 18, 19]);
    } finally {
      for (const env of envs) await env.close();
      setGeneratedCorpusLimits(previous);
    }
  });
});
