import { describe, expect, it, vi } from 'vitest';
import { runEpisodes } from '../../../src/agent/agent.js';
import { OracleAgent } from '../../../src/agent/baselines.js';
import { collectDemonstrations } from '../../../src/agent/policy/sft.js';
import { TurngymError } from '../../../src/core/errors.js';
import type { Env } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';

/** `count` instances of an env, each counting its resets. */
async function instances(id: string, kwargs: Record<string, unknown>, count: number) {
  const envs: Env[] = [];
  for (let i = 0; i < count; i++) envs.push(await make(id, kwargs));
  return { envs, resets: envs.map((env) => vi.spyOn(env, 'reset')) };
}

/** What a demonstration is, without the clock: task, actions, observations, rewards and outcome. */
const played = (transcripts: Awaited<ReturnType<typeof collectDemonstrations>>) =>
  transcripts.map(({ seed, prompt, turns, success, return: total }) => ({
    seed,
    prompt: prompt.text,
    turns: turns.map(({ action, observation, reward }) => ({ action, text: observation.text, reward })),
    success,
    total,
  }));

describe('demonstrations on several envs side by side', () => {
  // The search env of the quickstart (a world generated an episode) and a web env in a real Chromium, where
  // playing side by side is what makes demonstrations faster (`turngym bench demonstrations`).
  it.each([
    ['search/multihop-v0', { size: 40, worlds: 100_000, results: 3, snippetChars: 120, difficulty: 1 }, 24],
    ['web/forms-v0', { difficulty: 2 }, 10],
  ])(
    '%s: the same transcripts in the order of the seeds as on one env, every env playing',
    { timeout: 300_000 },
    async (id, kwargs, count) => {
      const seeds = Array.from({ length: count }, (_, i) => 40 + i);
      const one = await make(id, kwargs);
      const { envs, resets } = await instances(id, kwargs, 3);
      try {
        const alone = await collectDemonstrations(one, seeds);
        const progress: number[] = [];
        const together = await collectDemonstrations(envs, seeds, (done, total) => {
          expect(total).toBe(count);
          progress.push(done);
        });
        expect(together.map((transcript) => transcript.seed)).toEqual(seeds);
        expect(played(together)).toEqual(played(alone));
        expect(together.every((transcript) => transcript.success)).toBe(true);
        for (const reset of resets) expect(reset.mock.calls.length).toBeGreaterThanOrEqual(2);
        expect(progress).toEqual(Array.from({ length: count + 1 }, (_, i) => i));
      } finally {
        await Promise.all([one, ...envs].map((env) => env.close()));
      }
    },
  );

  it('refuses agents that do not match the envs one to one, and episodes without an env', async () => {
    const env = await make('puzzle/guess-number-v0');
    try {
      await expect(runEpisodes([env], [new OracleAgent(), new OracleAgent()], [{ seed: 0 }])).rejects.toThrow(
        TurngymError,
      );
      await expect(collectDemonstrations([], [0, 1])).rejects.toThrow(/at least one env/);
      expect(await collectDemonstrations([], [])).toEqual([]);
    } finally {
      await env.close();
    }
  });
});
