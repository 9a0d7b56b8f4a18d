/**
 * Every option of a training run, in one zod schema with a description on each field. The schema is the
 * single source of `train()`'s options, `turngym train`'s flags (generated from it), the presets, and the
 * `config.json` written into each run directory.
 */
import { z } from 'zod';
import { parseOptions } from '../core/errors.js';
import { BACKENDS } from '../agent/policy/backend.js';
import { modelChoiceSchema } from '../agent/policy/model.js';
import { sftOptionsSchema } from '../agent/policy/sft.js';
import { curriculumSchema } from './curriculum.js';
import { lossConfigSchema } from './losses.js';
import { MINI_BATCH_UNITS } from './update.js';

const sft = sftOptionsSchema.shape;

export const trainConfigSchema = z
  .object({
    // --- What to train on ---------------------------------------------------------------------------
    env: z.string().default('search/multihop-v0').describe('Environment id to train on').meta({ placeholder: 'id' }),
    kwargs: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Keyword arguments for make(env, kwargs), as JSON (the same --kwargs as run, sft and eval)'),
    difficulty: z.number().int().optional().describe('Task difficulty of training episodes (default: the env default)'),
    import: z
      .array(z.string())
      .default([])
      .describe('Modules that register envs (custom environments); repeatable on the command line')
      .meta({ placeholder: 'module', repeatable: true }),
    remote: z
      .array(z.string())
      .default([])
      .describe(
        'Run training rollouts on these env servers (turngym serve) instead of in this process, as JSON, e.g. ["ws://10.0.0.5:8765","10.0.0.6:8765-8768"]; token from $TURNGYM_TOKEN (see docs/scaling.md)',
      ),

    // --- Run ------------------------------------------------------------------------------------------
    steps: z
      .number()
      .int()
      .min(1, 'must be at least 1 (RL steps to train; to only evaluate a checkpoint, use turngym eval)')
      .default(50)
      .describe('RL training steps (each: rollouts, advantages, updates)'),
    seed: z.number().int().min(0).default(1).describe('Seed of tasks, sampling and Clip-Cov selection'),
    out: z
      .string()
      .default('runs/latest')
      .describe('Run directory (config, metrics.jsonl, checkpoints, trajectories, report)')
      .meta({ placeholder: 'dir' }),
    init: z
      .string()
      .optional()
      .describe(
        'Checkpoint directory to start from (a warm-started policy), or a run directory (its latest checkpoint); default: a fresh policy',
      )
      .meta({ placeholder: 'dir' }),
    model: modelChoiceSchema
      .default({})
      .describe('Shape of a fresh policy (without --init), as JSON, e.g. {"layers":2,"width":128}'),
    numbers: sft.numbers.describe(
      "How a fresh policy's tokenizer splits numbers (without --init): whole (up to six digits, one token) or digits (one token a digit, so copying a number is copying digits)",
    ),
    subwords: sft.subwords.describe(
      "Subword pieces of a fresh policy's tokenizer (without --init), that spell the words its vocabulary leaves out (a name never seen becomes a few recurring pieces, not bytes); 0: spelled in bytes",
    ),
    warmStartSteps: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Behaviour-cloning steps on oracle demonstrations before RL (when not starting from --init); 0: none'),
    warmStartEpisodes: sft.episodes.describe('Oracle demonstrations for the warm start'),
    warmStartBatchTokens: sft.batchTokens.describe(
      'Warm start: padded tokens per behaviour-cloning batch (as turngym sft --batch-tokens)',
    ),
    warmStartLearningRate: sft.learningRate.describe(
      'Warm start: peak behaviour-cloning learning rate (as turngym sft --learning-rate)',
    ),
    backend: z
      .enum(['auto', ...BACKENDS])
      .default('auto')
      .describe('TensorFlow.js backend; auto picks the fastest that loads'),

    // --- Rollouts -------------------------------------------------------------------------------------
    tasksPerStep: z.number().int().min(1).default(4).describe('Distinct tasks (groups) per training step'),
    groupSize: z.number().int().min(2).default(8).describe('Trajectories per task (GRPO group size G)'),
    maxSampleRounds: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe(
        'Dynamic sampling (DAPO): rounds of tasksPerStep new tasks a step may sample until tasksPerStep groups have a policy gradient (not every advantage zero); the update uses those (fewer when the rounds run out) and drops the rest, KL penalty included. 1 = off',
      ),
    curriculum: curriculumSchema
      .optional()
      .describe(
        'Horizon curriculum as JSON, e.g. {"kind":"scaling-inter","stages":[5,8,10],"every":100}; default: fixed at the env horizon',
      ),
    temperature: z.number().min(0).default(1).describe('Sampling temperature for rollouts'),
    topP: z.number().min(0).max(1).default(1).describe('Nucleus sampling threshold for rollouts'),
    maxActionTokens: z.number().int().min(1).default(24).describe('Most tokens in one action'),

    // --- Rewards and advantages -----------------------------------------------------------------------
    advantage: z
      .enum(['grpo', 'igpo'])
      .default('grpo')
      .describe('Advantage estimator: grpo (outcome, z-scored in the group) or igpo (turn-level information gain)'),
    igMode: z
      .enum(['prob', 'logprob'])
      .default('prob')
      .describe('IGPO reward: difference of answer probabilities (prob) or of mean log-probs (logprob)'),
    igNormalization: z
      .enum(['joint', 'separate'])
      .default('joint')
      .describe('IGPO: z-score IG and outcome rewards jointly or separately'),
    alpha: z.number().default(1).describe('IGPO: weight of the outcome reward on the final turn'),
    gamma: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        'Discount of turn-level credit: IGPO returns A_t = r_t + gamma * A_{t+1}; GRPO gives turn t gamma^(T-1-t) of the trajectory advantage (1: every turn alike, 0: the final turn only)',
      ),
    outcomeReward: z
      .enum(['env', 'success'])
      .default('env')
      .describe(
        "What a trajectory's outcome is worth to the advantages: env (the env's rewards, e.g. the fraction of hidden tests passed) or success (1 if the verifier says solved, else 0; the logged return stays the env's)",
      ),
    formatPenalty: z.number().min(0).default(0.1).describe('Penalty for an action that does not parse or validate'),
    formatPenaltyOn: z
      .enum(['return', 'turn'])
      .default('return')
      .describe(
        "grpo only (igpo refuses 'turn': its turn rewards already hold the penalty): where the format penalty counts. 'return': in the trajectory's return, before the group z-score (in a group without a success it then rewards well-formed actions, useless ones included); 'turn': the outcome alone is z-scored and each malformed turn's advantage takes the penalty, so such a group pushes malformed turns down and nothing up (use it from a warm start that rarely succeeds: docs/experiments.md, section 22)",
      ),
    negativeWeight: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        'Scale of negative advantages (1: as computed; 0: learn only from turns better than their group, i.e. positive-sample reinforcement, which sharpens a policy instead of spreading it)',
      ),

    // --- Updates --------------------------------------------------------------------------------------
    learningRate: z.number().positive().default(3e-4).describe('Adam learning rate'),
    epochs: z.number().int().min(1).default(2).describe('Passes over each batch (KL-Cov needs more than one)'),
    miniBatches: z.number().int().min(1).default(2).describe('Mini-batches per epoch'),
    miniBatchBy: z
      .enum(MINI_BATCH_UNITS)
      .default('play')
      .describe(
        "What is shuffled into mini-batches: 'play' (sequences, across groups) or 'group' (a task's plays stay together, so each mini-batch's advantages sum to zero per group)",
      ),
    microBatchTokens: z
      .number()
      .int()
      .min(64)
      .default(4096)
      .describe(
        'Most padded tokens (sequences x longest) in one pass through the policy; a larger mini-batch accumulates the same gradient over several passes, which bounds memory',
      ),
    sampleBatchTokens: z
      .number()
      .int()
      .min(64)
      .default(65_536)
      .describe(
        'Most padded tokens (rows x (longest context + max action tokens)) sampled in one batch; more rollouts than that are sampled in several batches, which bounds memory (so does a fixed bound on attention scores, rows x heads x longest context^2, for long contexts)',
      ),
    envConcurrency: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "Most env resets and steps in flight at once during rollouts (0: all of a step's envs at once); web envs on a small machine need it: 256 episodes at once on two cores made Chromium drop 250 (docs/training.md, step 2)",
      ),
    maxGradNorm: z.number().positive().default(1).describe('Gradient clipping by global norm'),
    ...lossConfigSchema.shape,

    // --- Evaluation, checkpoints, logging -------------------------------------------------------------
    evalEpisodes: z.number().int().min(0).default(32).describe('Held-out episodes evaluated before and after training'),
    evalTemperature: z
      .number()
      .min(0)
      .default(0)
      .describe(
        'Sampling temperature of the held-out evaluations (0: greedy; the rollout temperature measures the policy RL optimises)',
      ),
    evalSamples: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe(
        "Plays of each held-out task (above 1 needs an eval temperature above 0): success is then the mean over tasks of the fraction of plays solved, the sampled policy's expected success with less noise than one play",
      ),
    evalEvery: z.number().int().min(0).default(0).describe('Also evaluate every N steps (0: only before and after)'),
    checkpointEvery: z
      .number()
      .int()
      .min(0)
      .default(10)
      .describe('Save a checkpoint every N steps (0: only at the end)'),
    trajectoriesPerStep: z
      .number()
      .int()
      .min(0)
      .default(4)
      .describe('Trajectories per step written to trajectories.jsonl'),
    nanPatience: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe('Stop after this many consecutive steps with a non-finite loss'),
    tensorboard: z.boolean().default(false).describe('Also write TensorBoard event files'),
  })
  .strict()
  .superRefine(({ evalSamples: samples, evalTemperature, temperature, advantage, formatPenaltyOn }, context) => {
    if (samples > 1 && evalTemperature === 0) {
      const message = `--eval-samples ${samples} at --eval-temperature 0 would play the same greedy episode ${samples} times; set --eval-temperature above 0 (e.g. the rollout temperature, ${temperature})`;
      context.addIssue({ code: 'custom', message });
    }
    if (advantage === 'igpo' && formatPenaltyOn === 'turn') {
      const message =
        "--format-penalty-on turn is for --advantage grpo: IGPO already puts each malformed turn's penalty on that turn (in its reward r_t, beside the information gain), never in the outcome; drop the option, or use --advantage grpo";
      context.addIssue({ code: 'custom', message });
    }
  });

export type TrainConfig = z.output<typeof trainConfigSchema>;
/** `train()`'s options, documented one by one (generated from the schema: scripts/train-options.ts). */
export type { TrainOptions } from './train-options.js';

/**
 * Options under names of earlier releases, under today's: `envKwargs` (in a run's config.json written before
 * it was renamed, and in options objects) is `kwargs`. Accepted for one release; given both, `kwargs` wins.
 */
function upgradeOptionNames(options: unknown): unknown {
  if (typeof options !== 'object' || options === null || !('envKwargs' in options)) return options;
  const { envKwargs, ...rest } = options as Record<string, unknown>;
  return 'kwargs' in rest ? rest : { ...rest, kwargs: envKwargs };
}

/**
 * Validates training options (`train()`'s, or a preset, config file and flags merged by `turngym train`) and
 * fills in the defaults; bad ones are an `INVALID_OPTIONS` error naming each, as `name` spells it (see
 * `parseOptions`).
 */
export function parseTrainConfig(options: unknown, name?: (option: string) => string): TrainConfig {
  return parseOptions(trainConfigSchema, upgradeOptionNames(options), 'training options', name);
}
