/**
 * Reward parts of a turn: outcome (the verifier), format (a penalty for actions that did not parse or
 * validate) and information gain (IGPO).
 *
 * Information gain, as in IGPO: after the history up to turn t, force the ground-truth answer and score it
 * with the policy; p_t = exp(mean log-prob of the answer tokens) (a length-normalised probability). p_0 is
 * scored before the first turn. r_t = p_t - p_{t-1} (or, with `mode: 'logprob'`, the difference of the mean
 * log-probs). A turn that makes the policy more confident of the right answer is rewarded even when the
 * episode fails in the end.
 */
import type { StepInfo } from '../envs/env.js';
import { isFormatError } from '../core/errors.js';

/** Per-turn reward parts as kept in a rollout. */
export interface RewardParts {
  /** Information gain of the turn (IGPO); 0 when not computed. */
  informationGain: number;
  /** Format penalty (negative) when the action did not parse or validate; else 0. */
  format: number;
  /** The env's reward for the step (the verifier's score on the final step). */
  env: number;
}

/** The format penalty of a step: `-penalty` when the action was malformed, else 0. */
export function formatPenalty(info: StepInfo, penalty: number): number {
  return isFormatError(info.error?.code) ? -penalty : 0;
}

/**
 * Information-gain rewards from the mean log-probs of the ground-truth answer, `meanLogprobs[0]` scored
 * before the first turn and `meanLogprobs[t]` after turn t. Returns one reward per turn (length - 1).
 */
export function informationGain(meanLogprobs: readonly number[], mode: 'prob' | 'logprob' = 'prob'): number[] {
  const rewards: number[] = [];
  for (let t = 1; t < meanLogprobs.length; t++) {
    const before = meanLogprobs[t - 1]!;
    const after = meanLogprobs[t]!;
    rewards.push(mode === 'prob' ? Math.exp(after) - Math.exp(before) : after - before);
  }
  return rewards;
}
