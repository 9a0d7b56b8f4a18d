/**
 * `turngym bench env-step`: steps/s of puzzle/guess-number-v0 through the full wrapper stack and through the
 * episode player over 64 envs (`playEpisodes`, as evaluation and rollouts play), against the bare env in the
 * same run. Rounds alternate between the variants so that
 * noise from a shared machine hits all of them alike; figures are medians over rounds.
 */
import { type Actor, playEpisodes } from '../src/agent/player.js';
import type { Env } from '../src/envs/env.js';
import { make, spec } from '../src/envs/registry.js';
import { GuessNumberEnv } from '../src/envs/puzzle/guess-number.js';
import { median, now, round } from './stats.js';

const ID = 'puzzle/guess-number-v0';

export interface EnvStepOptions {
  /** Steps per round and variant. */
  steps?: number;
  rounds?: number;
  poolSize?: number;
}

/** Plays random in-range guesses for `steps` steps, resetting when an episode ends; returns steps/s. */
async function stepsPerSecond(env: Env, steps: number): Promise<number> {
  let seed = 0;
  await env.reset({ seed: seed++ });
  const start = now();
  for (let i = 0; i < steps; i++) {
    const result = await env.step({ tool: 'guess', args: { n: 1 + ((i * 7919) % 32) } });
    if (result.terminated || result.truncated) await env.reset({ seed: seed++ });
  }
  return (steps / (now() - start)) * 1000;
}

/** Plays episodes on `envs` in lockstep with the episode player (in-range guesses, each env going on to the next episode) for about `steps` steps; returns steps/s. */
async function playerStepsPerSecond(envs: readonly Env[], steps: number): Promise<number> {
  let turn = 0;
  const actor: Actor = {
    name: 'bench',
    act: (episodes) => {
      turn++;
      return episodes.map((_, i) => ({ action: { tool: 'guess', args: { n: 1 + ((turn * 31 + i * 7) % 32) } } }));
    },
  };
  // Episodes of the default difficulty last about 8.5 steps with these guesses.
  const episodes = Array.from({ length: Math.max(envs.length, Math.round(steps / 8.5)) }, (_, seed) => ({ seed }));
  const start = now();
  const played = await playEpisodes(envs, episodes, actor);
  return (played.envSteps / (now() - start)) * 1000;
}

export async function runEnvStep(options: EnvStepOptions = {}) {
  const steps = options.steps ?? 20_000;
  const rounds = options.rounds ?? 5;
  const poolSize = options.poolSize ?? 64;
  const envSpec = { ...spec(ID) };
  const bare = new GuessNumberEnv(envSpec, 3);
  const wrapped = await make(ID);
  const pool = await Promise.all(Array.from({ length: poolSize }, () => make(ID)));
  const samples = { bare: [] as number[], wrapped: [] as number[], pool: [] as number[] };
  await stepsPerSecond(bare, 2000); // warm-up (JIT)
  await stepsPerSecond(wrapped, 2000);
  await playerStepsPerSecond(pool, 2000);
  for (let round = 0; round < rounds; round++) {
    samples.bare.push(await stepsPerSecond(bare, steps));
    samples.wrapped.push(await stepsPerSecond(wrapped, steps));
    samples.pool.push(await playerStepsPerSecond(pool, steps));
  }
  await Promise.all([bare, wrapped, ...pool].map((env) => env.close()));
  const bareRate = median(samples.bare);
  const wrappedRate = median(samples.wrapped);
  const poolRate = median(samples.pool);
  return {
    benchmark: 'env-step',
    env: ID,
    steps_per_round: steps,
    rounds,
    bare_steps_per_s: round(bareRate),
    wrapped_steps_per_s: round(wrappedRate),
    pool_size: poolSize,
    pool_steps_per_s: round(poolRate),
    wrapper_overhead_ratio: round(bareRate / wrappedRate, 3),
    pool_overhead_ratio: round(bareRate / poolRate, 3),
    wrapper_overhead_us_per_step: round(1e6 / wrappedRate - 1e6 / bareRate, 3),
  };
}
