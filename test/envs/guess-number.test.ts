import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/agent.js';
import { OracleAgent, RandomAgent } from '../../src/agent/baselines.js';
import { checkEnv } from '../../src/envs/check.js';
import type { Env, StepResult } from '../../src/envs/env.js';
import { guessNumberSuite } from '../../src/envs/puzzle/guess-number.js';
import { make } from '../../src/envs/registry.js';
import { Rng } from '../../src/core/rng.js';
import { wrap } from '../../src/envs/wrappers.js';
import '../../src/envs/builtin.js';

describe('puzzle/guess-number-v0', () => {
  it('passes checkEnv', async () => {
    const report = await checkEnv(await make('puzzle/guess-number-v0'));
    expect(report.failures).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(8);
  });

  it('solves every task with the oracle within about log2(range) guesses', async () => {
    for (let difficulty = 1; difficulty <= 12; difficulty++) {
      const env = await make('puzzle/guess-number-v0', { difficulty }, { maxTurns: 20 });
      for (let seed = 0; seed < 20; seed++) {
        const transcript = await runEpisode(env, new OracleAgent(), { seed });
        expect(transcript.success).toBe(true);
        expect(transcript.turns.length).toBeLessThanOrEqual(difficulty + 3);
      }
      await env.close();
    }
  });

  it('never shows the secret in the first observation and answers higher/lower truthfully', async () => {
    const env = await make('puzzle/guess-number-v0', { difficulty: 6 });
    for (let seed = 0; seed < 50; seed++) {
      const { observation } = await env.reset({ seed });
      const secret = Number(env.groundTruth());
      // The prompt depends on the difficulty only, never on the secret.
      expect(observation.text).toBe(
        'I am thinking of an integer from 1 to 256. Find it with guess(n); I will answer higher, lower or correct.',
      );
      const low = await env.step(`guess(${Math.max(1, secret - 1)})`);
      if (secret > 1) expect(low.observation.text).toBe(`${secret - 1}: higher.`);
    }
    await env.close();
  });

  it('answers out-of-range guesses with an error observation', async () => {
    const env = await make('puzzle/guess-number-v0');
    await env.reset({ seed: 1 });
    const result: StepResult = await env.step('guess(1000)');
    expect(result).toMatchObject({
      terminated: false,
      reward: 0,
      info: {
        tool: 'guess',
        error: { code: 'TOOL_ERROR', message: '1000 is outside the range 1 to 32; guess a number in it.' },
      },
    });
    expect(result.observation.text).toBe('Error: 1000 is outside the range 1 to 32; guess a number in it.');
  });

  it('overrides difficulty per episode and rejects bad difficulty options', async () => {
    const env: Env = await make('puzzle/guess-number-v0');
    expect((await env.reset({ seed: 1, options: { difficulty: 8 } })).observation.text).toContain('1 to 1024');
    await expect(env.reset({ options: { difficulty: 40 } })).rejects.toThrow(
      'puzzle/guess-number-v0: difficulty must be an integer from 1 to 12, got 40',
    );
  });

  it('lets a random agent play without errors, usually failing', async () => {
    const env = await make('puzzle/guess-number-v0', { difficulty: 8 });
    const transcript = await runEpisode(env, new RandomAgent(3), { seed: 4 });
    expect(transcript.turns.length).toBe(10);
    expect(transcript.truncated).toBe(true);
  });

  it('has a task suite whose oracle passes its verifier', () => {
    const rng = Rng.fromSeed(1);
    for (let i = 0; i < 100; i++) {
      const task = guessNumberSuite.generate(rng, rng.int(1, 12));
      expect(guessNumberSuite.verify(task, Number(task.answer))).toEqual({ score: 1, success: true });
      expect(guessNumberSuite.verify(task, task.secret + 1).success).toBe(false);
    }
  });

  it('survives a 1 MB action', async () => {
    const env = wrap((await make('puzzle/guess-number-v0')) as Env);
    await env.reset({ seed: 0 });
    const result = await env.step(`guess(${'9'.repeat(1 << 20)})`);
    expect(result.info.error?.code).toBe('ACTION_TOO_LARGE');
  });
});

describe('Rng', () => {
  it('is reproducible from a seed and from its state', () => {
    const a = Rng.fromSeed(42);
    const b = Rng.fromSeed(42);
    expect(Array.from({ length: 5 }, () => a.int(0, 1000))).toEqual(Array.from({ length: 5 }, () => b.int(0, 1000)));
    const restored = Rng.fromState(a.state());
    expect(restored.float()).toBe(a.float());
    expect(Rng.fromSeed(1).int(0, 1e9)).not.toBe(Rng.fromSeed(2).int(0, 1e9));
  });
});
