import type { Trajectory } from '../../src/rl/rollout.js';

/** Rollout turns and trajectories for the tests of what the trainer does with trajectories (advantages, training examples, step metrics). */

/** A turn (`RolloutTurn`) with the given context and action tokens, log-probs -token/10, no rewards. */
export const turn = (context: number[], tokens: number[]) => ({
  action: '',
  observation: { text: '' },
  reward: 0,
  info: {},
  context,
  tokens,
  logprobs: tokens.map((t) => -t / 10),
  entropies: tokens.map(() => 1),
  rewards: { informationGain: 0, format: 0, env: 0 },
});

/** A one-turn trajectory of `group` that succeeded (return 1) or failed (return 0). */
export const played = (group: number, success: boolean): Trajectory => ({
  group,
  seed: group,
  prompt: '',
  return: success ? 1 : 0,
  success,
  truncated: false,
  turns: [turn([1], [2])],
});
