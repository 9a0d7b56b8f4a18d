/**
 * Advantage estimators over a group of G trajectories of the same task.
 *
 * - `grpo`: each trajectory's return is z-scored within the group and broadcast to all its action tokens
 *   (the trainer scales it by gamma^(T-1-t) on turn t of T; gamma 1, the default, leaves it as is).
 * - `igpo`: turn rewards (information gain, format, and alpha * outcome added on the final turn) are z-scored
 *   within the group — jointly, or information gain and outcome separately — and turned into turn-level
 *   returns A_t = r~_t + gamma * A_{t+1}, copied to the tokens of turn t.
 *
 * `computeAdvantages` applies the configured estimator to a step's trajectories, group by group;
 * `trainedTrajectories` is dynamic sampling's filter over the groups that have a policy gradient.
 */
import type { TrainConfig } from './config.js';
import type { RewardParts } from './rewards.js';
import type { Trajectory } from './rollout.js';

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
      trajectory.turns.map(
        (turn, t) =>
          turn.informationGain +
          turn.format +
          (t === trajectory.turns.length - 1 ? options.alpha * trajectory.outcome : 0),
      ),
    );
    normalized = reshape(zScores(raw.flat()), raw);
  } else {
    const gains = group.map((trajectory) => trajectory.turns.map((turn) => turn.informationGain));
    const gainScores = reshape(zScores(gains.flat()), gains);
    const outcomeScores = zScores(group.map((trajectory) => options.alpha * trajectory.outcome));
    normalized = group.map((trajectory, g) =>
      trajectory.turns.map(
        (turn, t) => gainScores[g]![t]! + turn.format + (t === trajectory.turns.length - 1 ? outcomeScores[g]! : 0),
      ),
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

/** The indices of the items of each group, one list per group, in order of first appearance. */
export function groupIndices(items: readonly { group: number }[]): number[][] {
  const byGroup = new Map<number, number[]>();
  items.forEach((item, index) => {
    const members = byGroup.get(item.group) ?? [];
    members.push(index);
    byGroup.set(item.group, members);
  });
  return [...byGroup.values()];
}

/** Per-turn advantages of every trajectory (same shape as their turns). */
export function computeAdvantages(
  trajectories: readonly Trajectory[],
  config: Pick<TrainConfig, 'advantage' | 'alpha' | 'gamma' | 'igNormalization'> &
    Partial<Pick<TrainConfig, 'negativeWeight' | 'outcomeReward' | 'formatPenaltyOn'>>,
): number[][] {
  const outcomeOf = (trajectory: Trajectory) =>
    config.outcomeReward === 'success' ? (trajectory.success ? 1 : 0) : trajectory.return;
  const advantages: number[][] = trajectories.map((trajectory) => trajectory.turns.map(() => 0));
  // GRPO's format penalty either joins the return before the z-score or stays on its own turn after it.
  const penaltyInReturn = (config.formatPenaltyOn ?? 'return') === 'return';
  for (const members of groupIndices(trajectories)) {
    if (members.length < 2) continue; // a group cut to one trajectory has no baseline
    const group = members.map((index) => trajectories[index]!);
    if (config.advantage === 'grpo') {
      const returns = group.map(
        (trajectory) =>
          outcomeOf(trajectory) +
          (penaltyInReturn ? trajectory.turns.reduce((sum, turn) => sum + turn.rewards.format, 0) : 0),
      );
      const scores = grpoAdvantages(returns);
      members.forEach((index, g) => {
        const turns = trajectories[index]!.turns;
        advantages[index] = turns.map(
          (turn, t) =>
            scores[g]! * config.gamma ** (turns.length - 1 - t) + (penaltyInReturn ? 0 : turn.rewards.format),
        );
      });
    } else {
      const scores = igpoAdvantages(
        group.map((trajectory) => ({
          turns: trajectory.turns.map((turn) => turn.rewards),
          outcome: outcomeOf(trajectory),
        })),
        { alpha: config.alpha, gamma: config.gamma, normalization: config.igNormalization },
      );
      members.forEach((index, g) => {
        advantages[index] = scores[g]!;
      });
    }
  }
  const negativeWeight = config.negativeWeight ?? 1;
  return advantages.map((turns) => turns.map((a) => (a < 0 ? a * negativeWeight : a)));
}

/** True for an advantage that carries no policy gradient (zero up to rounding). */
export const isZeroAdvantage = (advantage: number) => Math.abs(advantage) < 1e-8;

/** True when every turn advantage of the group's trajectories is zero: the group gives no policy gradient. */
export function hasNoGradient(members: readonly number[], advantages: readonly number[][]): boolean {
  return members.every((i) => advantages[i]!.every(isZeroAdvantage));
}

/**
 * Dynamic sampling (DAPO's group filter): the trajectories of the first `limit` groups with a policy
 * gradient, in the order the groups first appear (a step's rounds, each sorted by group). Groups whose
 * every advantage is zero (solved or failed in every sample, with GRPO) are left out; `groups` is how
 * many were kept.
 */
export function trainedTrajectories(
  trajectories: readonly Trajectory[],
  advantages: readonly number[][],
  limit: number,
): { indices: number[]; groups: number } {
  const kept = groupIndices(trajectories)
    .filter((members) => !hasNoGradient(members, advantages))
    .slice(0, limit);
  return { indices: kept.flat().sort((a, b) => a - b), groups: kept.length };
}
