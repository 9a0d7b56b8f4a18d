/**
 * Advantage estimators over a group of G trajectories of the same task.
 *
 * - `grpo`: each trajectory's return is z-scored within the group and broadcast to all its action tokens
 *   (the trainer scales it by gamma^(T-1-t) on turn t of T; gamma 1, the default, leaves it as is).
 * - `igpo`: turn rewards (information gain, format, and alpha * outcome added on the final turn) are z-scored
 *   within the group — jointly, or information gain and outcome separately — and turned into turn-level
 *   returns A_t = r~_t + gamma * A_{t+1}, copied to the tokens of turn t.
 */
import type { RewardParts } from './rewards.js';

const EPSILON = 1e-6;

/** Z-scores of `values` ((x - mean) / (std + eps), population std). */
export function zScores(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length;
  const std = Math.sqrt(variance);
  return values.map((v) => (v - mean) / (std + EPSILON));
}

/** GRPO: one advantage per trajectory, the z-score of its return within the group. */
export function grpoAdvantages(returns: readonly number[]): number[] {
  return zScores(returns);
}

/** What `igpoAdvantages` needs of one trajectory. */
export interface TurnRewards {
  /** Reward parts of each turn, in order. */
  turns: readonly RewardParts[];
  /** The outcome score (verifier) of the trajectory. */
  outcome: number;
}

export interface IgpoOptions {
  /** Weight of the outcome on the final turn (IGPO: alpha = 1). */
  alpha: number;
  /** Discount of the turn-level return (IGPO: 1). */
  gamma: number;
  /** Z-score all turn rewards of the group together, or information gain and outcome separately. */
  normalization: 'joint' | 'separate';
}

/** IGPO: one advantage per turn of each trajectory of the group. */
export function igpoAdvantages(group: readonly TurnRewards[], options: IgpoOptions): number[][] {
  let normalized: number[][];
  if (options.normalization === 'joint') {
    const raw = group.map((trajectory) =>
      trajectory.turns.map((turn, t) => turn.informationGain + turn.format + (t === trajectory.turns.length - 1 ? options.alpha * trajectory.outcome : 0)),
    );
    normalized = reshape(zScores(raw.flat()), raw);
  } else {
    const gains = group.map((trajectory) => trajectory.turns.map((turn) => turn.informationGain));
    const gainScores = reshape(zScores(gains.flat()), gains);
    const outcomeScores = zScores(group.map((trajectory) => options.alpha * trajectory.outcome));
    normalized = group.map((trajectory, g) =>
      trajectory.turns.map((turn, t) => gainScores[g]![t]! + turn.format + (t === trajectory.turns.length - 1 ? outcomeScores[g]! : 0)),
    );
  }
  return normalized.map((rewards) => discountedReturns(rewards, options.gamma));
}

/** A_t = r_t + gamma * A_{t+1}, computed backwards. */
export function discountedReturns(rewards: readonly number[], gamma: number): number[] {
  const returns = new Array<number>(rewards.length);
  let next = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    next = rewards[t]! + gamma * next;
    returns[t] = next;
  }
  return returns;
}

function reshape(flat: readonly number[], like: readonly (readonly unknown[])[]): number[][] {
  let offset = 0;
  return like.map((row) => {
    const out = flat.slice(offset, offset + row.length);
    offset += row.length;
    return out;
  });
}
