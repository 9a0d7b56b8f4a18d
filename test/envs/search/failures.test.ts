/** scripts/search-failures.ts: each failed search episode gets what went wrong first, from real episodes. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';
import { failureOf, failureTable, readingOf } from '../../../scripts/search-failures.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-search-failures-'));
let env: Env;
let twoHops: Env;
let twoHopsPaged: Env; // documents in pages of 200 characters
beforeAll(async () => {
  env = await make('search/multihop-v0', { size: 40, worlds: 50, difficulty: 1, indexDirectory: directory });
  twoHops = await make('search/multihop-v0', { size: 40, worlds: 50, difficulty: 2, indexDirectory: directory });
  twoHopsPaged = await make('search/multihop-v0', {
    size: 40,
    worlds: 50,
    difficulty: 2,
    pageChars: 200,
    indexDirectory: directory,
  });
});
afterAll(async () => {
  await env.close();
  await twoHops.close();
  await twoHopsPaged.close();
  rmSync(directory, { recursive: true, force: true });
});

type Recorded = { action: unknown; result: Awaited<ReturnType<Env['step']>> };
/**
 * Plays the oracle on seed 5 of a 2-hop question (of `twoHops`, or `on`) for `turns` turns (all of them when
 * undefined), then `then` (each a function of the last observation), as `eval --record` records an episode.
 */
async function oracleThen(turns?: number, ...then: ((observation: string) => string)[]) {
  return oracleOn(twoHops, 5, turns, ...then);
}
async function oracleOn(on: Env, seed: number, turns?: number, ...then: ((observation: string) => string)[]) {
  const reset = await on.reset({ seed, options: { split: 'train' } });
  const oracle = on.oracle!();
  const steps: Recorded[] = [];
  let observation = reset.observation;
  let info: Record<string, unknown> = reset.info;
  for (let turn = 0; turns === undefined || turn < turns; turn++) {
    const action = await oracle.next(observation, info as never);
    const result = await on.step(action);
    steps.push({ action, result });
    if (result.terminated) return { reset, steps };
    ({ observation, info } = result);
  }
  for (const next of then) {
    const action = next(observation.text);
    const result = await on.step(action);
    steps.push({ action, result });
    observation = result.observation;
  }
  return { reset, steps };
}

/** Plays `actions` (a function of the last observation) on seed 5, as `eval --record` records an episode. */
async function play(...actions: ((observation: string, question: string) => string)[]) {
  const reset = await env.reset({ seed: 5, options: { split: 'train' } });
  const question = /^Question: (.*)$/m.exec(reset.observation.text)![1]!;
  const steps = [];
  let text = reset.observation.text;
  for (const next of actions) {
    const action = next(text, question);
    const result = await env.step(action);
    steps.push({ action, result });
    text = result.observation.text;
    if (result.terminated) break;
  }
  return { reset, steps };
}

const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
/** The name the question asks about: its capitalised words after the first. */
const nameIn = (question: string) => question.match(/(?<!^)\b[A-Z][\p{L}]+(?: [A-Z][\p{L}]+)*/u)![0];
const search = (_: string, question: string) => `search("${nameIn(question)}")`;
const openFirst = (observation: string) => `open("${/\[([^\]]+)\]/.exec(observation)![1]}")`;

describe('search failures', () => {
  it('names what went wrong first', async () => {
    const reset = await env.reset({ seed: 5, options: { split: 'train' } });
    const oracle = env.oracle!();
    const solved = { reset, steps: [] as { action: unknown; result: Awaited<ReturnType<Env['step']>> }[] };
    let observation = reset.observation;
    let info: Record<string, unknown> = reset.info;
    for (;;) {
      const action = await oracle.next(observation, info as never);
      const result = await env.step(action);
      solved.steps.push({ action, result });
      if (result.terminated) break;
      ({ observation, info } = result);
    }
    expect(failureOf(solved as never)).toBeUndefined();
    const episodes = {
      malformed: await play(
        () => 'search(',
        search,
        () => 'answer("x")',
      ),
      query_not_from_question: await play(
        () => 'search("zebra crossing")',
        () => 'answer("x")',
      ),
      opened_nothing: await play(search, () => 'answer("Qwertyville")'),
      answer_not_read: await play(search, openFirst, () => 'answer("Qwertyville")'),
      wrong_span: await play(search, openFirst, (page) => `answer("${/^\[[^\]]+\] (.*)$/m.exec(page)![1]}")`),
      no_answer: await play(search, openFirst),
    };
    for (const [expected, episode] of Object.entries(episodes))
      expect([expected, failureOf(episode as never)]).toEqual([expected, expected]);
    const table = failureTable([solved, ...Object.values(episodes)] as never);
    expect(table.all).toEqual({
      malformed: 1,
      query_not_from_question: 1,
      opened_nothing: 1,
      answer_not_read: 1,
      wrong_span: 1,
      no_answer: 1,
      success: 1,
      searched_question_words: 6, // all but query_not_from_question
      opened_a_listed_document: 4, // and not malformed or opened_nothing
      hop_not_followed: 0,
      reached_hop_1: 4,
    });
    expect(table['hops=1']).toEqual(table.all);
  });

  it('follows a 2-hop chain: a hop opens a document that a search for a name read on the last hop listed', async () => {
    const solved = await oracleThen();
    expect(solved.reset.info.difficulty).toBe(2);
    expect(solved.steps.at(-1)!.result.info.success).toBe(true);
    expect(readingOf(solved as never)).toMatchObject({ hops: 2, failure: undefined });
    // The cases below cut the oracle after its first hop (2 turns) or both (4): check that they are those turns.
    expect(solved.steps.map((step) => (step.action as { tool: string }).tool)).toEqual([
      'search',
      'open',
      'search',
      'open',
      'answer',
    ]);
    // The oracle's first hop (search the question's name, open), then an answer: one hop of two.
    const oneHop = await oracleThen(2, () => 'answer("Qwertyville")');
    expect(readingOf(oneHop as never)).toMatchObject({ hops: 1, failure: 'hop_not_followed' });
    // Searching the question's name again is not a second hop: the name must come from the page read.
    const again = await oracleThen(
      2,
      () => `search("${nameIn(/^Question: (.*)$/m.exec(solved.reset.observation.text)![1]!)}")`,
      (results) => `open("${[...results.matchAll(/\[([^\]]+)\]/g)][1]![1]}")`,
    );
    expect(again.steps.at(-1)!.result.observation.text).not.toMatch(/^Error/);
    expect(readingOf(again as never).hops).toBe(1);
    // Nor is opening the first hop's document again, after a search with a word read in it.
    const firstDocument = (solved.steps[1]!.action as { args: { id: string } }).args.id;
    const question = new Set(words(solved.reset.observation.text));
    const pageWord = words(solved.steps[1]!.result.observation.text).find(
      (word) => word.length > 3 && !question.has(word),
    )!;
    const questionName = nameIn(/^Question: (.*)$/m.exec(solved.reset.observation.text)![1]!);
    const reopened = await oracleThen(
      2,
      () => `search("${questionName} ${pageWord}")`,
      () => `open("${firstDocument}")`,
    );
    expect(reopened.steps[2]!.result.observation.text).toContain(`[${firstDocument}]`);
    expect(reopened.steps[3]!.result.observation.text).not.toMatch(/^Error/);
    expect(readingOf(reopened as never).hops).toBe(1);
    // Both hops followed, then an answer no observation showed.
    const bothHops = await oracleThen(4, () => 'answer("Qwertyville")');
    expect(readingOf(bothHops as never)).toMatchObject({ hops: 2, failure: 'answer_not_read' });
    const table = failureTable([solved, oneHop, bothHops] as never);
    expect(table['hops=2']).toMatchObject({
      success: 1,
      hop_not_followed: 1,
      answer_not_read: 1,
      reached_hop_1: 3,
      reached_hop_2: 2,
    });
  });

  it("reads every page of a hop's document: a word from its second page can start the next hop", async () => {
    // The oracle's first hop (search, open page 1), then page 2 of that document, a search for a word only page 2
    // shows, and a document that search listed.
    const hop = await oracleOn(twoHopsPaged, 5, 2);
    const first = (hop.steps[1]!.action as { args: { id: string } }).args.id;
    expect(hop.steps[1]!.result.observation.text).toMatch(/\(page 1 of [2-9]\)/);
    const question = new Set(words(hop.reset.observation.text));
    const pageOne = new Set(words(hop.steps[1]!.result.observation.text));
    let other = '';
    const episode = await oracleOn(
      twoHopsPaged,
      5,
      2,
      () => `open(id="${first}", page=2)`,
      (page) =>
        `search("${words(page.replace(/^\[[^\]]+\]/, '')).find((word) => word.length > 4 && !pageOne.has(word) && !question.has(word))}")`,
      (results) => {
        other = [...results.matchAll(/\[([^\]]+)\]/g)].map((match) => match[1]!).find((id) => id !== first)!;
        return `open("${other}")`;
      },
    );
    expect(other).not.toBe('');
    expect(episode.steps.map((step) => step.result.observation.text.startsWith('Error'))).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(readingOf(episode as never).hops).toBe(2);
  });
});
