/**
 * Rollout collection with a bound on env calls in flight (`--env-concurrency`): real guess-number envs and
 * a real, tiny policy; the envs are wrapped only to count the resets and steps running at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/agent/policy/backend.js';
import { Policy } from '../../src/agent/policy/policy.js';
import { collectDemonstrations, fitTokenizer } from '../../src/agent/policy/sft.js';
import type { Env } from '../../src/envs/env.js';
import { make } from '../../src/envs/registry.js';
import { Rng } from '../../src/core/rng.js';
import '../../src/envs/builtin.js';
import { collectRollouts } from '../../src/rl/rollout.js';

const ID = 'puzzle/guess-number-v0';
let policy: Policy;

beforeAll(async () => {
  await initBackend('wasm', () => {});
  const env = await make(ID, { difficulty: 1 });
  try {
    const demonstrations = await collectDemonstrations(env, [0, 1, 2, 3]);
    policy = Policy.create({
      tokenizer: fitTokenizer(env.spec, demonstrations, 512),
      model: { layers: 1, width: 32, heads: 2, contextLength: 128 },
      seed: 1,
      maxActionTokens: 8,
    });
  } finally {
    await env.close();
  }
}, 120_000);

afterAll(() => policy?.dispose());

/** Counts the env calls of every wrapped env that are running at once. */
function countingEnvs(envs: Env[]): { envs: Env[]; most: () => number } {
  let active = 0;
  let most = 0;
  const counted =
    <T>(call: () => Promise<T>) =>
    async (): Promise<T> => {
      active++;
      most = Math.max(most, active);
      try {
        // Hold the call for a moment so that calls the limit lets through overlap.
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await call();
      } finally {
        active--;
      }
    };
  const wrapped = envs.map(
    (env) =>
      new Proxy(env, {
        get(target, key, receiver) {
          if (key === 'reset') return (options: Parameters<Env['reset']>[0]) => counted(() => target.reset(options))();
          if (key === 'step') return (action: Parameters<Env['step']>[0]) => counted(() => target.step(action))();
          return Reflect.get(target, key, receiver);
        },
      }),
  );
  return { envs: wrapped, most: () => most };
}

describe('collectRollouts with --env-concurrency', () => {
  for (const [limit, expected] of [
    [2, 2],
    [0, 8],
  ] as const) {
    it(`runs at most ${expected} env calls at once with envConcurrency ${limit}, and loses no trajectory`, async () => {
      const real: Env[] = [];
      try {
        for (let i = 0; i < 8; i++) real.push(await make(ID, { difficulty: 1 }));
        const { envs, most } = countingEnvs(real);
        const batch = await collectRollouts(policy, envs, [5, 6], {
          maxTurns: 3,
          temperature: 1,
          topP: 1,
          maxActionTokens: 8,
          formatPenalty: 0,
          envConcurrency: limit,
          rng: Rng.fromSeed(3),
        });
        expect(batch.dropped).toBe(0);
        expect(batch.trajectories).toHaveLength(8);
        expect(most()).toBe(expected);
      } finally {
        await Promise.all(real.map((env) => env.close()));
      }
    }, 120_000);
  }
});

describe('collectRollouts when an env fails', () => {
  it('drops that trajectory, counted and logged, and keeps the others', async () => {
    const real: Env[] = [];
    try {
      for (let i = 0; i < 4; i++) real.push(await make(ID, { difficulty: 1 }));
      const crash = (env: Env, call: 'reset' | 'step'): Env =>
        new Proxy(env, {
          get: (target, key, receiver) =>
            key === call
              ? async () => {
                  throw new Error(`${call} crashed`);
                }
              : Reflect.get(target, key, receiver),
        });
      const lines: string[] = [];
      const envs = [real[0]!, crash(real[1]!, 'step'), real[2]!, crash(real[3]!, 'reset')];
      const batch = await collectRollouts(policy, envs, [5, 6], {
        maxTurns: 3,
        temperature: 1,
        topP: 1,
        maxActionTokens: 8,
        formatPenalty: 0,
        informationGain: 'prob',
        rng: Rng.fromSeed(3),
        log: (line) => lines.push(line),
      });
      expect(batch.dropped).toBe(2);
      expect(batch.trajectories.map((trajectory) => [trajectory.group, trajectory.seed])).toEqual([
        [0, 5],
        [1, 6],
      ]);
      expect(batch.trajectories.every((trajectory) => trajectory.initialAnswerLogprob !== undefined)).toBe(true);
      expect(lines).toEqual([
        'rollout: dropped a trajectory of group 1 (seed 6): reset failed: reset crashed',
        'rollout: dropped a trajectory of group 0 (seed 5): step failed: step crashed',
      ]);
    } finally {
      await Promise.all(real.map((env) => env.close()));
    }
  }, 120_000);
});
