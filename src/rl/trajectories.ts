/**
 * Sampled trajectories as the trainer writes them to `trajectories.jsonl` in a run directory (one JSON
 * object per line), for the report's trajectory viewer and for `turngym export-trajectories`.
 */

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
