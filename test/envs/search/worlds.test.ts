/** search/multihop-v0 with `worlds`: a knowledge base of its own an episode, held-out worlds never trained on. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Env, StepResult } from '../../../src/envs/env.js';
import { TurngymError } from '../../../src/core/errors.js';
import { make } from '../../../src/envs/registry.js';
import { openCorpusCount } from '../../../src/envs/search/corpus.js';
import { worldSeed } from '../../../src/envs/search/env.js';
import '../../../src/envs/builtin.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-search-worlds-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const WORLDS = { size: 40, worlds: 500, difficulty: 1, indexDirectory: join(directory, 'index') };

const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

/** Plays the oracle to the end; the episode's success and the ids of the documents it opened. */
async function playOracle(env: Env, seed: number, split: 'train' | 'heldout') {
  let { observation, info } = await env.reset({ seed, options: { split } });
  const oracle = env.oracle!();
  let result: StepResult | undefined;
  do {
    result = await env.step(await oracle.next(observation, info));
    ({ observation, info } = result);
  } while (!result.terminated && !result.truncated);
  return result.info.success;
}

describe('search/multihop-v0 worlds', () => {
  it('asks about a world of its own drawn by the seed, and never a training world in the held-out split', async () => {
    const env = await make('search/multihop-v0', WORLDS);
    try {
      const worldOf = async (seed: number, split: 'train' | 'heldout') => {
        const { observation, info } = await env.reset({ seed, options: { split } });
        return { world: info.world as number, text: observation.text };
      };
      const train: { world: number; text: string }[] = [];
      const heldout: { world: number; text: string }[] = [];
      for (const seed of range(0, 200)) train.push(await worldOf(seed, 'train'));
      for (const seed of range(1_000_000, 200)) heldout.push(await worldOf(seed, 'heldout'));
      const trainWorlds = new Set(train.map((t) => t.world));
      expect(trainWorlds.size).toBeGreaterThan(150); // many worlds, not one
      expect(heldout.filter((h) => trainWorlds.has(h.world))).toEqual([]);
      for (const { world } of [...train, ...heldout]) {
        expect(world).toBeGreaterThanOrEqual(worldSeed(0, 0));
        expect(world).toBeLessThan(worldSeed(0, 500));
      }
      // The same seed, the same world and question.
      expect((await worldOf(7, 'train')).text).toBe((await worldOf(7, 'train')).text);
      expect(train[0]!.text).toMatch(/collection of 40 documents/);
    } finally {
      await env.close();
    }
    expect(openCorpusCount()).toBe(0);
    expect(existsSync(join(directory, 'index')) ? readdirSync(join(directory, 'index')) : []).toEqual([]);
  });

  it('searches the episode world: the oracle solves every episode in either split', async () => {
    const env = await make('search/multihop-v0', { ...WORLDS, difficulty: 2 });
    try {
      for (const seed of range(0, 15)) expect(await playOracle(env, seed, 'train')).toBe(true);
      for (const seed of range(1_000_000, 15)) expect(await playOracle(env, seed, 'heldout')).toBe(true);
    } finally {
      await env.close();
    }
  });

  it('two envs in the same world share its index, and another kbSeed is another pool', async () => {
    const a = await make('search/multihop-v0', WORLDS);
    const b = await make('search/multihop-v0', WORLDS);
    const other = await make('search/multihop-v0', { ...WORLDS, kbSeed: 1 });
    try {
      await a.reset({ seed: 3 });
      await b.reset({ seed: 3 });
      expect(openCorpusCount()).toBe(1);
      const first = await a.step('search("the")');
      const second = await b.step('search("the")');
      expect(second.observation.text).toBe(first.observation.text);
      const { observation } = await other.reset({ seed: 3 });
      expect(observation.text).not.toBe((await a.reset({ seed: 3 })).observation.text);
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
    expect(openCorpusCount()).toBe(0);
  });

  it('refuses worlds larger than a remote client may ask for, in one line naming size', async () => {
    const error = await make('search/multihop-v0', { ...WORLDS, size: 6000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TurngymError);
    expect((error as Error).message).toMatch(/size: with worlds, a world has at most 5000 articles/);
  });
});

describe('search/multihop-v0 observation size', () => {
  it('lists `results` results of about `snippetChars` characters when a search gives no k', async () => {
    const small = await make('search/multihop-v0', { ...WORLDS, results: 2, snippetChars: 60 });
    const large = await make('search/multihop-v0', WORLDS);
    try {
      await small.reset({ seed: 4 });
      await large.reset({ seed: 4 });
      const shown = (await small.step('search("the city")')).observation.text;
      const full = (await large.step('search("the city")')).observation.text;
      expect(shown.match(/^\d+\. \[/gm)).toHaveLength(2);
      expect(full.match(/^\d+\. \[/gm)).toHaveLength(5);
      const snippets = shown.split('\n').filter((line) => line.startsWith('   '));
      for (const snippet of snippets) expect(snippet.replaceAll('**', '').trim().length).toBeLessThanOrEqual(62);
      expect((await small.step('search(query="the city", k=4)')).observation.text.match(/^\d+\. \[/gm)).toHaveLength(4);
      // The oracle still solves its tasks with the shorter observations.
      expect(await playOracle(small, 11, 'train')).toBe(true);
    } finally {
      await Promise.all([small.close(), large.close()]);
    }
  });
});
