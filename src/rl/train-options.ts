// Generated from trainConfigSchema (src/rl/config.ts) by scripts/train-options.ts: do not edit, run `npx tsx scripts/train-options.ts`.
import type { z } from 'zod';
import type { trainConfigSchema } from './config.js';

type Input = z.input<typeof trainConfigSchema>;

/**
 * The options of `train()`, each with its meaning and default (the same as `turngym train`'s flags:
 * `warmStartSteps` is `--warm-start-steps`). Every option is optional; `train()` validates them and throws a
 * `TurngymError` (`INVALID_OPTIONS`) naming each bad one.
 */
export interface TrainOptions {
  /**
   * Environment id to train on.
   *
   * @defaultValue `"search/multihop-v0"`
   */
  env?: Input['env'];
  /**
   * Keyword arguments for make(env, kwargs), as JSON (the same --kwargs as run, sft and eval).
   *
   * @defaultValue `{}`
   */
  kwargs?: Input['kwargs'];
  /**
   * Task difficulty of training episodes (default: the env default).
   */
  difficulty?: Input['difficulty'];
  /**
   * Modules that register envs (custom environments); repeatable on the command line.
   *
   * @defaultValue `[]`
   */
  import?: Input['import'];
  /**
   * Run training rollouts on these env servers (turngym serve) instead of in this process, as JSON, e.g.
   * ["ws://10.0.0.5:8765","10.0.0.6:8765-8768"]; token from $TURNGYM_TOKEN (see docs/scaling.md).
   *
   * @defaultValue `[]`
   */
  remote?: Input['remote'];
  /**
   * RL training steps (each: rollouts, advantages, updates).
   *
   * @defaultValue `50`
   */
  steps?: Input['steps'];
  /**
   * Seed of tasks, sampling and Clip-Cov selection.
   *
   * @defaultValue `1`
   */
  seed?: Input['seed'];
  /**
   * Run directory (config, metrics.jsonl, checkpoints, trajectories, report).
   *
   * @defaultValue `"runs/latest"`
   */
  out?: Input['out'];
  /**
   * Checkpoint directory to start from (a warm-started policy), or a run directory (its latest checkpoint);
   * default: a fresh policy.
   */
  init?: Input['init'];
  /**
   * Shape of a fresh policy (without --init), as JSON, e.g. {"layers":2,"width":128}.
   *
   * @defaultValue `{}`
   */
  model?: Input['model'];
  /**
   * How a fresh policy's tokenizer splits numbers (without --init): whole (up to six digits, one token) or
   * digits (one token a digit, so copying a number is copying digits).
   *
   * @defaultValue `"whole"`
   */
  numbers?: Input['numbers'];
  /**
   * Subword pieces of a fresh policy's tokenizer (without --init), that spell the words its vocabulary
   * leaves out (a name never seen becomes a few recurring pieces, not bytes); 0: spelled in bytes.
   *
   * @defaultValue `0`
   */
  subwords?: Input['subwords'];
  /**
   * Behaviour-cloning steps on oracle demonstrations before RL (when not starting from --init); 0: none.
   *
   * @defaultValue `0`
   */
  warmStartSteps?: Input['warmStartSteps'];
  /**
   * Oracle demonstrations for the warm start.
   *
   * @defaultValue `256`
   */
  warmStartEpisodes?: Input['warmStartEpisodes'];
  /**
   * Warm start: padded tokens per behaviour-cloning batch (as turngym sft --batch-tokens).
   *
   * @defaultValue `2048`
   */
  warmStartBatchTokens?: Input['warmStartBatchTokens'];
  /**
   * Warm start: peak behaviour-cloning learning rate (as turngym sft --learning-rate).
   *
   * @defaultValue `0.002`
   */
  warmStartLearningRate?: Input['warmStartLearningRate'];
  /**
   * TensorFlow.js backend; auto picks the fastest that loads.
   *
   * @defaultValue `"auto"`
   */
  backend?: Input['backend'];
  /**
   * Distinct tasks (groups) per training step.
   *
   * @defaultValue `4`
   */
  tasksPerStep?: Input['tasksPerStep'];
  /**
   * Trajectories per task (GRPO group size G).
   *
   * @defaultValue `8`
   */
  groupSize?: Input['groupSize'];
  /**
   * Dynamic sampling (DAPO): rounds of tasksPerStep new tasks a step may sample until tasksPerStep groups
   * have a policy gradient (not every advantage zero); the update uses those (fewer when the rounds run out)
   * and drops the rest, KL penalty included. 1 = off.
   *
   * @defaultValue `1`
   */
  maxSampleRounds?: Input['maxSampleRounds'];
  /**
   * Horizon curriculum as JSON, e.g. {"kind":"scaling-inter","stages":[5,8,10],"every":100}; default: fixed
   * at the env horizon.
   */
  curriculum?: Input['curriculum'];
  /**
   * Sampling temperature for rollouts.
   *
   * @defaultValue `1`
   */
  temperature?: Input['temperature'];
  /**
   * Nucleus sampling threshold for rollouts.
   *
   * @defaultValue `1`
   */
  topP?: Input['topP'];
  /**
   * Most tokens in one action.
   *
   * @defaultValue `24`
   */
  maxActionTokens?: Input['maxActionTokens'];
  /**
   * Advantage estimator: grpo (outcome, z-scored in the group) or igpo (turn-level information gain).
   *
   * @defaultValue `"grpo"`
   */
  advantage?: Input['advantage'];
  /**
   * IGPO reward: difference of answer probabilities (prob) or of mean log-probs (logprob).
   *
   * @defaultValue `"prob"`
   */
  igMode?: Input['igMode'];
  /**
   * IGPO: z-score IG and outcome rewards jointly or separately.
   *
   * @defaultValue `"joint"`
   */
  igNormalization?: Input['igNormalization'];
  /**
   * IGPO: weight of the outcome reward on the final turn.
   *
   * @defaultValue `1`
   */
  alpha?: Input['alpha'];
  /**
   * Discount of turn-level credit: IGPO returns A_t = r_t + gamma * A_{t+1}; GRPO gives turn t gamma^(T-1-t)
   * of the trajectory advantage (1: every turn alike, 0: the final turn only).
   *
   * @defaultValue `1`
   */
  gamma?: Input['gamma'];
  /**
   * What a trajectory's outcome is worth to the advantages: env (the env's rewards, e.g. the fraction of
   * hidden tests passed) or success (1 if the verifier says solved, else 0; the logged return stays the
   * env's).
   *
   * @defaultValue `"env"`
   */
  outcomeReward?: Input['outcomeReward'];
  /**
   * Penalty for an action that does not parse or validate.
   *
   * @defaultValue `0.1`
   */
  formatPenalty?: Input['formatPenalty'];
  /**
   * grpo only (igpo refuses 'turn': its turn rewards already hold the penalty): where the format penalty
   * counts. 'return': in the trajectory's return, before the group z-score (in a group without a success it
   * then rewards well-formed actions, useless ones included); 'turn': the outcome alone is z-scored and each
   * malformed turn's advantage takes the penalty, so such a group pushes malformed turns down and nothing up
   * (use it from a warm start that rarely succeeds: docs/experiments.md, section 22).
   *
   * @defaultValue `"return"`
   */
  formatPenaltyOn?: Input['formatPenaltyOn'];
  /**
   * Scale of negative advantages (1: as computed; 0: learn only from turns better than their group, i.e.
   * positive-sample reinforcement, which sharpens a policy instead of spreading it).
   *
   * @defaultValue `1`
   */
  negativeWeight?: Input['negativeWeight'];
  /**
   * Adam learning rate.
   *
   * @defaultValue `0.0003`
   */
  learningRate?: Input['learningRate'];
  /**
   * Passes over each batch (KL-Cov needs more than one).
   *
   * @defaultValue `2`
   */
  epochs?: Input['epochs'];
  /**
   * Mini-batches per epoch.
   *
   * @defaultValue `2`
   */
  miniBatches?: Input['miniBatches'];
  /**
   * What is shuffled into mini-batches: 'play' (sequences, across groups) or 'group' (a task's plays stay
   * together, so each mini-batch's advantages sum to zero per group).
   *
   * @defaultValue `"play"`
   */
  miniBatchBy?: Input['miniBatchBy'];
  /**
   * Most padded tokens (sequences x longest) in one pass through the policy; a larger mini-batch accumulates
   * the same gradient over several passes, which bounds memory.
   *
   * @defaultValue `4096`
   */
  microBatchTokens?: Input['microBatchTokens'];
  /**
   * Most padded tokens (rows x (longest context + max action tokens)) sampled in one batch; more rollouts
   * than that are sampled in several batches, which bounds memory (so does a fixed bound on attention
   * scores, rows x heads x longest context^2, for long contexts).
   *
   * @defaultValue `65536`
   */
  sampleBatchTokens?: Input['sampleBatchTokens'];
  /**
   * Most env resets and steps in flight at once during rollouts (0: all of a step's envs at once); web envs
   * on a small machine need it: 256 episodes at once on two cores made Chromium drop 250 (docs/training.md,
   * step 2).
   *
   * @defaultValue `0`
   */
  envConcurrency?: Input['envConcurrency'];
  /**
   * Gradient clipping by global norm.
   *
   * @defaultValue `1`
   */
  maxGradNorm?: Input['maxGradNorm'];
  /**
   * PPO clip range below 1 (ratio >= 1 - clipLow).
   *
   * @defaultValue `0.2`
   */
  clipLow?: Input['clipLow'];
  /**
   * PPO clip range above 1 (ratio <= 1 + clipHigh; DAPO clip-higher).
   *
   * @defaultValue `0.28`
   */
  clipHigh?: Input['clipHigh'];
  /**
   * Entropy control method.
   *
   * @defaultValue `"clip-cov"`
   */
  entropyControl?: Input['entropyControl'];
  /**
   * Entropy bonus coefficient (entropyControl = bonus).
   *
   * @defaultValue `0.001`
   */
  entropyCoef?: Input['entropyCoef'];
  /**
   * Clip-Cov: fraction of valid tokens whose gradient is zeroed (at least 1).
   *
   * @defaultValue `0.0002`
   */
  clipCovRatio?: Input['clipCovRatio'];
  /**
   * Clip-Cov: lower covariance bound of candidate tokens.
   *
   * @defaultValue `1`
   */
  clipCovLb?: Input['clipCovLb'];
  /**
   * Clip-Cov: upper covariance bound of candidate tokens.
   *
   * @defaultValue `5`
   */
  clipCovUb?: Input['clipCovUb'];
  /**
   * KL-Cov: fraction of valid tokens (top by covariance) that get the KL penalty (at least 1).
   *
   * @defaultValue `0.0002`
   */
  klCovRatio?: Input['klCovRatio'];
  /**
   * KL-Cov: coefficient of |logp - logp_old| on the selected tokens.
   *
   * @defaultValue `0.1`
   */
  klCovCoef?: Input['klCovCoef'];
  /**
   * Coefficient of a KL penalty to the reference policy (the starting one: --init or the warm start) on
   * every action token, k3 estimator (verl low_var_kl); 0: off.
   *
   * @defaultValue `0`
   */
  klCoef?: Input['klCoef'];
  /**
   * How token losses are averaged: token-mean (every action token weighs the same; verl token-mean) or
   * trajectory-mean (each trajectory weighs the same however many tokens it has; verl seq-mean-token-mean).
   *
   * @defaultValue `"token-mean"`
   */
  lossAggregation?: Input['lossAggregation'];
  /**
   * Held-out episodes evaluated before and after training.
   *
   * @defaultValue `32`
   */
  evalEpisodes?: Input['evalEpisodes'];
  /**
   * Sampling temperature of the held-out evaluations (0: greedy; the rollout temperature measures the policy
   * RL optimises).
   *
   * @defaultValue `0`
   */
  evalTemperature?: Input['evalTemperature'];
  /**
   * Plays of each held-out task (above 1 needs an eval temperature above 0): success is then the mean over
   * tasks of the fraction of plays solved, the sampled policy's expected success with less noise than one
   * play.
   *
   * @defaultValue `1`
   */
  evalSamples?: Input['evalSamples'];
  /**
   * Also evaluate every N steps (0: only before and after).
   *
   * @defaultValue `0`
   */
  evalEvery?: Input['evalEvery'];
  /**
   * Save a checkpoint every N steps (0: only at the end).
   *
   * @defaultValue `10`
   */
  checkpointEvery?: Input['checkpointEvery'];
  /**
   * Trajectories per step written to trajectories.jsonl.
   *
   * @defaultValue `4`
   */
  trajectoriesPerStep?: Input['trajectoriesPerStep'];
  /**
   * Stop after this many consecutive steps with a non-finite loss.
   *
   * @defaultValue `3`
   */
  nanPatience?: Input['nanPatience'];
  /**
   * Also write TensorBoard event files.
   *
   * @defaultValue `false`
   */
  tensorboard?: Input['tensorboard'];
}

// Fails to compile when this interface and the schema name different options.
type Same<T extends true> = T;
type _SameOptions = Same<[Exclude<keyof Input, keyof TrainOptions>, Exclude<keyof TrainOptions, keyof Input>] extends [never, never] ? true : false>;
