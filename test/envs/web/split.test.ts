import { describe, expect, it } from 'vitest';
import { make } from '../../../src/envs/registry.js';
import { drawTask, type Split, splitOf } from '../../../src/envs/task.js';
import { wikiSuiteOf } from '../../../src/envs/web/wiki.js';
import '../../../src/envs/builtin.js';

const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

describe('web/wiki-v0 held-out split', () => {
  // The suite draws tasks without a browser; TaskEnv.reset draws them the same way (checked in Chromium below).
  it.each([1, 2])('never asks a training question in the held-out split (kbSize 40, difficulty %i)', (difficulty) => {
    const suite = wikiSuiteOf(40);
    const questions = (seeds: number[], split?: Split) =>
      seeds.map((seed) => drawTask(suite, { seed, difficulty, split }).question.question);
    const train = new Set(questions(range(0, 300), 'train'));
    const heldout = new Set(questions(range(1_000_000, 300), 'heldout'));
    expect(train.size).toBeGreaterThan(50);
    expect(heldout.size).toBeGreaterThan(10);
    expect([...heldout].filter((question) => train.has(question))).toEqual([]);
    expect(questions(range(1_000_000, 300), 'heldout')).toEqual(questions(range(1_000_000, 300), 'heldout'));
    // Without the split the held-out seeds mostly ask training questions (the problem the split solves).
    const unsplit = new Set(questions(range(0, 300)));
    expect(questions(range(1_000_000, 100)).filter((question) => unsplit.has(question)).length).toBeGreaterThan(50);
  });

  // One browser, a handful of resets: the split reaches the env through reset options.
  it('draws reset tasks from the split in the browser', { timeout: 300_000 }, async () => {
    const env = await make('web/wiki-v0', { kbSize: 40, difficulty: 1 });
    const asked = async (seed: number, split?: Split) => {
      const { observation, info } = await env.reset({ seed, options: split ? { split } : {} });
      expect(info.split).toBe(split);
      const question = /answer\(text\) with the answer alone: (.*)$/m.exec(observation.text)?.[1];
      expect(question, observation.text).toBeDefined();
      return question!;
    };
    try {
      for (const seed of [0, 1]) {
        const plain = await asked(seed);
        expect(plain).toBe(drawTask(wikiSuiteOf(40), { seed, difficulty: 1 }).question.question);
        for (const split of ['train', 'heldout'] as const) {
          const question = await asked(seed, split);
          expect(splitOf(question), `seed ${seed}`).toBe(split);
          expect(question).toBe(drawTask(wikiSuiteOf(40), { seed, difficulty: 1, split }).question.question);
        }
      }
      await expect(env.reset({ seed: 0, options: { split: 'eval' } })).rejects.toThrow(
        "web/wiki-v0 reset: split must be 'train'",
      );
    } finally {
      await env.close();
    }
  });
});
