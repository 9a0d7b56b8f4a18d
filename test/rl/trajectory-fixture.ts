/** Rollout turns for the tests of what the trainer does with trajectories (advantages, training examples, step metrics). */

/** A turn with the given context and action tokens, log-probs -token/10, no rewards. */
export const turn = (context: number[], tokens: number[]) => ({
  context,
  tokens,
  logprobs: tokens.map((t) => -t / 10),
  entropies: tokens.map(() => 1),
  text: '',
  observation: '',
  rewards: { informationGain: 0, format: 0, env: 0 },
});
