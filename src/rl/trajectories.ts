/**
 * Sampled trajectories as the trainer writes them to `trajectories.jsonl` in a run directory (one JSON
 * object per line), for the report's trajectory viewer and for `turngym export-trajectories`:
 * `trajectoryRecords` chooses a step's sample and makes its records.
 */
import { describeTools } from '../envs/actions.js';
import type { EnvSpec } from '../envs/env.js';
import type { Trajectory } from './rollout.js';

/** One turn of a recorded trajectory. */
export interface TrajectoryTurn {
  /** The action text the policy wrote. */
  action: string;
  /** The observation the env returned. */
  observation: string;
  /** The env's reward for the step. */
  reward: number;
  /** Format penalty (<= 0). */
  format: number;
  /** IGPO: p_t, the policy's probability of the ground-truth answer after this turn (when computed). */
  answer_probability?: number;
  /** IGPO: information gain of the turn (p_t - p_{t-1}, or the log-prob difference). */
  information_gain?: number;
  /** The advantage given to this turn's tokens. */
  advantage?: number;
  /** The agent-mistake code, when the action could not be carried out. */
  error?: string;
}

/** One recorded trajectory. */
export interface TrajectoryRecord {
  /** Training step (or `-1` for evaluation before training). */
  step: number;
  env: string;
  seed: number;
  /** Index of the group (task) within the step; trajectories of a group share the task. */
  group: number;
  /** The task as the agent saw it. */
  prompt: string;
  /** Tool signatures and descriptions shown to the agent. */
  tools: { name: string; description: string }[];
  /** IGPO: p_0, the probability of the answer before the first turn. */
  initial_answer_probability?: number;
  turns: TrajectoryTurn[];
  /** The verifier's score. */
  outcome: number;
  success: boolean;
  /** Sum of env rewards. */
  return: number;
  truncated: boolean;
  /** The horizon the episode ran under. */
  max_turns: number;
}

/**
 * The records of `count` of a step's trajectories: one per group first (varied tasks), then the others in
 * order. `horizon` is the step's; each turn carries its advantage.
 */
export function trajectoryRecords(
  step: number,
  trajectories: readonly Trajectory[],
  advantages: readonly number[][],
  options: { count: number; spec: EnvSpec; horizon: number },
): TrajectoryRecord[] {
  const chosen: number[] = [];
  const seenGroups = new Set<number>();
  trajectories.forEach((trajectory, index) => {
    if (!seenGroups.has(trajectory.group)) {
      seenGroups.add(trajectory.group);
      chosen.push(index);
    }
  });
  for (let index = 0; index < trajectories.length && chosen.length < options.count; index++)
    if (!chosen.includes(index)) chosen.push(index);
  const tools = options.spec.tools.map((tool) => ({ name: tool.name, description: describeTools([tool]) }));
  return chosen.slice(0, options.count).map((index) => {
    const trajectory = trajectories[index]!;
    return {
      step,
      env: options.spec.id,
      seed: trajectory.seed,
      group: trajectory.group,
      prompt: trajectory.prompt.text,
      tools,
      ...(trajectory.initialAnswerLogprob !== undefined
        ? { initial_answer_probability: Math.exp(trajectory.initialAnswerLogprob) }
        : {}),
      turns: trajectory.turns.map((turn, t) => ({
        action: turn.action,
        observation: turn.observation.text,
        reward: turn.rewards.env,
        format: turn.rewards.format,
        ...(turn.answerLogprob !== undefined
          ? { answer_probability: Math.exp(turn.answerLogprob), information_gain: turn.rewards.informationGain }
          : {}),
        advantage: advantages[index]![t]!,
        ...(turn.info.error ? { error: turn.info.error.code } : {}),
      })),
      outcome: trajectory.return,
      success: trajectory.success,
      return: trajectory.return,
      // Cut off by the horizon, the task not ended.
      truncated: trajectory.truncated && !trajectory.terminated,
      max_turns: options.horizon,
    };
  });
}
