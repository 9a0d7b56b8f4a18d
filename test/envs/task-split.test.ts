import { describe, expect, it } from 'vitest';
import type { EnvSpec, StepResult } from '../../src/envs/env.js';
import { TurngymError } from '../../src/core/errors.js';
import { guessNumberSuite } from '../../src/envs/puzzle/guess-number.js';
import { make, spec } from '../../src/envs/registry.js';
import {
  drawTask,
  HELDOUT_FRACTION,
  MAX_SPLIT_DRAWS,
  SPLITS,
  splitOf,
  type Task,
  TaskEnv,
  type TaskSuite,
} from '../../src/envs/task.js';
import { Rng } from '../../src/core/rng.js';
import '../../src/envs/builtin.js';

describe('splitOf', () => {
  it('holds out about HELDOUT_FRACTION of keys, similar keys included', () => {
    expect(HELDOUT_FRACTION).toBe(0.2);
    expect(SPLITS).toEqual(['train', 'heldout']);
    let heldout = 0;
    const count = 50_000;
    for (let i = 0; i < count; i++) if (splitOf(`Who founded Organisation ${i}?`) === 'heldout') heldout++;
    expect(heldout / count).toBeGreaterThan(0.19);
    expect(heldout / count).toBeLessThan(0.21);
  });

  it('is a fixed function of the key (a change would reshuffle which questions every past run held out)', () => {
    const pinned: [string, string][] = [
      ['Who founded Marberg Group?', 'heldout'],
      ['Which organisation released Valley of the Wandering Window?', 'heldout'],
      ['In which year was Pelholm & Corvik Group founded?', 'train'],
      ['What is the occupation of Nils Haranley?', 'train'],
      ['a', 'heldout'],
      ['b', 'train'],
      ['', 'train'],
    ];
    expect(pinned.map(([key]) => [key, splitOf(key)])).toEqual(pinned);
  });
});

interface RiddleTask extends Task {
  riddle: string;
}

// A suite with a tiny pool: two riddles, both in the train bucket, so it has no held-out task.
const RIDDLES = ['In which year was Pelholm & Corvik Group founded?', 'What is the occupation of Nils Haranley?'];
const riddleSuite: TaskSuite<RiddleTask, string> = {
  difficulties: [1, 1],
  generate: (rng, difficulty) => {
    const riddle = rng.pick(RIDDLES);
    return { prompt: riddle, answer: 'unknown', difficulty, riddle };
  },
  verify: (task, submission) => ({ score: submission === task.answer ? 1 : 0, success: submission === task.answer }),
  oracle: (task) => ({ next: () => ({ tool: 'answer', args: { text: task.answer } }) }),
  splitKey: (task) => task.riddle,
};

class RiddleEnv extends TaskEnv<RiddleTask> {
  protected async callTool(): Promise<StepResult> {
    return { observation: { text: 'done' }, reward: 0, terminated: true, truncated: false, info: {} };
  }
}

describe('drawTask and reset with a split', () => {
  it('says clearly when a split has no tasks, after a bounded number of draws', async () => {
    expect(RIDDLES.map(splitOf)).toEqual(['train', 'train']);
    let generated = 0;
    const counting = {
      ...riddleSuite,
      generate: (rng: Rng, difficulty: number) => (generated++, riddleSuite.generate(rng, difficulty)),
    };
    expect(() => drawTask(counting, { seed: 3, difficulty: 1, split: 'heldout', where: 'riddles' })).toThrow(
      /riddles: the 'heldout' split has no tasks at difficulty 1 .*10,000 tasks drawn from seed 3/,
    );
    expect(generated).toBe(MAX_SPLIT_DRAWS);
    expect(drawTask(riddleSuite, { seed: 3, difficulty: 1, split: 'train' }).riddle).toBe(
      drawTask(riddleSuite, { seed: 3, difficulty: 1 }).riddle,
    );

    const guessSpec: EnvSpec = spec('puzzle/guess-number-v0');
    const env = new RiddleEnv({ ...guessSpec, id: 'test/riddle-v0' }, riddleSuite, 1);
    const error = await env.reset({ seed: 3, options: { split: 'heldout' } }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(TurngymError.is(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message).toMatch(
      /^test\/riddle-v0 reset: the 'heldout' split has no tasks at difficulty 1/,
    );
    expect((error as Error).message).toContain('reset without a split');
    expect((await env.reset({ seed: 3, options: { split: 'train' } })).info.split).toBe('train');
    await env.close();
  });

  it('ignores a split for a suite without a split key, but still refuses an unknown one', async () => {
    expect(guessNumberSuite.splitKey).toBeUndefined();
    const env = await make('puzzle/guess-number-v0', { difficulty: 5 });
    try {
      for (const seed of [0, 1, 2, 1_000_000]) {
        const plain = await env.reset({ seed });
        const secret = env.groundTruth!();
        for (const split of SPLITS) {
          const result = await env.reset({ seed, options: { split } });
          expect(result.observation).toEqual(plain.observation);
          expect(env.groundTruth!()).toBe(secret);
          expect(result.info).not.toHaveProperty('split');
        }
        expect(secret).toBe(String(guessNumberSuite.generate(Rng.fromSeed(seed), 5).secret));
      }
      await expect(env.reset({ seed: 0, options: { split: 'validation' } })).rejects.toThrow(
        `puzzle/guess-number-v0 reset: split must be 'train' (tasks for demonstrations and RL rollouts) or 'heldout' (tasks for evaluation, never asked in training), or left out (any task); got "validation".`,
      );
    } finally {
      await env.close();
    }
  });
});
