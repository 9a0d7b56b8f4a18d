import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Env } from '../../../src/envs/env.js';
import { TurngymError } from '../../../src/core/errors.js';
import { make } from '../../../src/envs/registry.js';
import { type Split, splitOf } from '../../../src/envs/task.js';
import '../../../src/envs/builtin.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-search-split-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
// The small world of the measured problem: 40 articles, where 87 of 100 "held-out" seeds asked a question
// that the 400 demonstration seeds had asked.
const SMALL = { size: 40, indexDirectory: join(directory, 'index') };

function questionOf(text: string): string {
  const match = /^Question: (.*)$/m.exec(text);
  if (!match) throw new Error(`no question in:\n${text}`);
  return match[1]!;
}

async function questions(env: Env, seeds: readonly number[], split?: Split): Promise<string[]> {
  const asked: string[] = [];
  for (const seed of seeds) {
    const { observation, info } = await env.reset({ seed, options: split ? { split } : {} });
    expect(info.split).toBe(split);
    asked.push(questionOf(observation.text));
  }
  return asked;
}

const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

describe('search/multihop-v0 held-out split', () => {
  it.each([1, 2])(
    'never asks a training question in the held-out split (size 40, difficulty %i)',
    async (difficulty) => {
      const env = await make('search/multihop-v0', { ...SMALL, difficulty });
      try {
        const train = new Set(await questions(env, range(0, 300), 'train'));
        const heldout = new Set(await questions(env, range(1_000_000, 300), 'heldout'));
        expect(train.size).toBeGreaterThan(50);
        expect(heldout.size).toBeGreaterThan(10);
        expect([...heldout].filter((question) => train.has(question))).toEqual([]);
        // The bucket is the hash of the question, whatever the seed.
        expect([...train].every((question) => splitOf(question) === 'train')).toBe(true);
        expect([...heldout].every((question) => splitOf(question) === 'heldout')).toBe(true);
        // Without a split the same seeds share questions: the split is what keeps them apart.
        const unsplitTrain = new Set(await questions(env, range(0, 300)));
        const unsplitHeldout = await questions(env, range(1_000_000, 300));
        expect(unsplitHeldout.filter((question) => unsplitTrain.has(question)).length).toBeGreaterThan(100);
      } finally {
        await env.close();
      }
    },
  );

  it("gives the same task for the same seed and split, and the seed's own task when it is already in the split", async () => {
    const env = await make('search/multihop-v0', { ...SMALL, difficulty: 1 });
    try {
      const seeds = range(500, 40);
      for (const split of ['train', 'heldout'] as const) {
        const first = await questions(env, seeds, split);
        // Interleave the other split and no split: no state carries over between resets.
        await questions(env, seeds.slice(0, 5), split === 'train' ? 'heldout' : 'train');
        await questions(env, seeds.slice(0, 5));
        expect(await questions(env, seeds, split)).toEqual(first);
      }
      const plain = await questions(env, seeds);
      const inTrain = await questions(env, seeds, 'train');
      seeds.forEach((seed, i) => {
        if (splitOf(plain[i]!) === 'train') expect(inTrain[i], `seed ${seed}`).toBe(plain[i]);
        else expect(inTrain[i], `seed ${seed}`).not.toBe(plain[i]);
      });
    } finally {
      await env.close();
    }
  });

  it('asks the questions it always asked when no split is given', async () => {
    // Recorded before splits existed: a seed's task must not change for callers that do not ask for one.
    const expected: Record<number, Record<number, string>> = {
      1: {
        0: 'Who founded Marberg Group?',
        1: 'Which organisation released Valley of the Wandering Window?',
        2: 'In which year was Pelholm & Corvik Group founded?',
        1_000_000: 'What is the occupation of Nils Haranley?',
      },
      2: {
        0: 'In which year was the founder of Marberg Group born?',
        1: 'In which city is the publisher of Valley of the Wandering Window headquartered?',
        2: 'In which year was the founder of Pelholm & Corvik Group born?',
        1_000_000: 'In which industry does the employer of Nils Haranley operate?',
      },
    };
    for (const [difficulty, bySeed] of Object.entries(expected)) {
      const env = await make('search/multihop-v0', { ...SMALL, difficulty: Number(difficulty) });
      try {
        for (const [seed, question] of Object.entries(bySeed)) {
          const { observation, info } = await env.reset({ seed: Number(seed) });
          expect(questionOf(observation.text), `difficulty ${difficulty}, seed ${seed}`).toBe(question);
          expect(info).not.toHaveProperty('split');
        }
      } finally {
        await env.close();
      }
    }
  });

  it('refuses an unknown split with a message that names the choices', async () => {
    const env = await make('search/multihop-v0', { ...SMALL, difficulty: 1 });
    try {
      for (const split of ['test', 'held-out', 'HELDOUT', 1, null]) {
        const error = await env.reset({ seed: 1, options: { split } }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(TurngymError.is(error, 'INVALID_OPTIONS'), String(split)).toBe(true);
        expect((error as Error).message).toContain("split must be 'train'");
        expect((error as Error).message).toContain("'heldout'");
        expect((error as Error).message).toContain(JSON.stringify(split));
      }
      // The env is still usable after the refusal.
      const { info } = await env.reset({ seed: 1, options: { split: 'heldout' } });
      expect(info.split).toBe('heldout');
    } finally {
      await env.close();
    }
  });
});
