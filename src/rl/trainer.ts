/**
 * The turn-level RL trainer. Set-up (options, run directory, policy, envs), then one loop whose every pass is
 * one training step:
 *
 *   1. horizon   = curriculum(step)                                   (fixed | scaling-inter | tti)
 *   2. rollouts  = G trajectories for each of `tasksPerStep` tasks     (rollout.ts: batched sampling over the envs)
 *   3. rewards   = outcome + format penalty (+ information gain per turn, IGPO)        (rewards.ts, rollout.ts)
 *   4. advantage = grpo (outcome z-scored in the group, gamma^(T-1-t) of it on turn t) | igpo (turn rewards z-scored, discounted per turn);
 *                  negative ones scaled by negativeWeight; with dynamic sampling, steps 2-4 again on new tasks
 *                  until tasksPerStep groups have a policy gradient                     (advantages.ts)
 *   5. update    = `epochs` passes of `miniBatches` PPO-clip steps with entropy control (clip-cov, kl-cov, ...)
 *                  and, with klCoef > 0, a KL penalty to the starting policy             (update.ts, losses.ts)
 *   6. log       = metrics.jsonl (stable names), sampled trajectories, checkpoints      (metrics.ts, trajectories.ts,
 *                                                                                        run-directory.ts)
 *
 * Everything that decides what happens next (weights, optimizer moments, the three RNG streams, the step)
 * is saved in checkpoints, so `resume` continues a run exactly.
 */
import type { Env, EnvSpec } from '../envs/env.js';
import { describeError, TurngymError } from '../core/errors.js';
import { make, spec as specOf } from '../envs/registry.js';
import { Rng } from '../core/rng.js';
import { formatSuccessRate } from '../agent/agent.js';
import { type BackendName, initBackend } from '../agent/policy/backend.js';
import { loadCheckpoint } from '../agent/policy/checkpoint.js';
import { type EvaluationReport, evaluatePolicy } from '../agent/policy/evaluate.js';
import {
  comparePaired,
  type EpisodeOutcome,
  formatPValue,
  type PairedComparison,
  taskSettingDifference,
} from '../agent/policy/paired.js';
import { Policy } from '../agent/policy/policy.js';
import {
  behaviourCloning,
  collectDemonstrations,
  fitTokenizer,
  type SftPhase,
  TOKENIZER_SEED_BASE,
} from '../agent/policy/sft.js';
import { computeAdvantages, groupIndices, trainedTrajectories } from './advantages.js';
import { parseTrainConfig, type TrainConfig, type TrainOptions } from './config.js';
import { type Curriculum, horizonAt } from './curriculum.js';
import { envFactory } from './env-factory.js';
import { type LossConfig, lossConfigSchema } from './losses.js';
import { evaluationMetrics, type MetricsRecord, stepMetrics } from './metrics.js';
import { writeReport } from './report.js';
import { collectRollouts, type RolloutBatch } from './rollout.js';
import { CHECKPOINT_NAMES, checkpointOf, RunDirectory, type TrainerState } from './run-directory.js';
import { trajectoryRecords } from './trajectories.js';
import { addReferenceLogprobs, runUpdates, trainingExamples, type UpdateSummary } from './update.js';

/** First seed of RL training tasks: far from the SFT seeds (0...) and the held-out seeds (1,000,000...). */
export const RL_SEED_BASE = 2_000_000;

/** What a training run reports when it ends. */
export interface TrainResult {
  runDir: string;
  steps: number;
  /** Held-out evaluation before training (absent when resuming) and after. */
  before?: EvaluationReport;
  after?: EvaluationReport;
  /**
   * After against before on the same held-out tasks, with exact sign tests (also in eval.json); absent when
   * either evaluation is, or when a resumed run evaluates other tasks than its evaluation before.
   */
  paired?: PairedComparison;
  stoppedBy: 'done' | 'signal' | 'nan';
  lastMetrics?: MetricsRecord;
}

/** Hooks for progress and control (the CLI's progress bar and Ctrl-C). */
export interface TrainHooks {
  log?: (line: string) => void;
  /**
   * Progress of the long phases before and between steps: playing the oracle for the tokenizer and the warm
   * start, behaviour cloning, held-out evaluation (`done` of `total`, from 0). Steps are reported by `onStep`.
   */
  progress?: (phase: SftPhase, done: number, total: number) => void;
  onStep?: (record: MetricsRecord, config: TrainConfig) => void;
  /** When aborted, the trainer finishes the current step, saves a checkpoint and returns. */
  signal?: AbortSignal;
}

/** How `train` treats the run directory `out`, beside the run's options. */
export interface RunDirectoryChoice {
  /** Continue the run in `out` from its latest checkpoint (`--resume`). */
  resume?: boolean;
  /** Start a new run in `out` even when it holds one: that run's files are deleted first (`--overwrite`). Without it, an `out` that holds a run is an error. */
  overwrite?: boolean;
}

/**
 * Runs (or, with `resume`, continues) a training run. `options` is validated by `trainConfigSchema`. A new
 * run refuses an `out` that already holds a run unless `overwrite` is set.
 */
export async function train(options: TrainOptions & RunDirectoryChoice, hooks: TrainHooks = {}): Promise<TrainResult> {
  // --- Set-up: options, run directory, policy and trainer state, held-out evaluation, rollout envs ---------
  const { resume, overwrite, ...rest } = options;
  const config = parseTrainConfig(rest);
  const log = hooks.log ?? ((line: string) => console.error(line));
  const setting = settingOf(config);
  const run = new RunDirectory(config.out);
  if (resume && overwrite)
    throw new TurngymError(
      'INVALID_OPTIONS',
      `--resume continues the run in ${run.dir} and --overwrite deletes it: give one of them.`,
    );
  if (!resume) await run.startNew({ overwrite });
  await initBackend(config.backend as BackendName | 'auto', log);
  const { policy, state, warmStart } = resume
    ? await resumeRun(run, config, log)
    : await startRun(run, config, setting, log, hooks.progress);
  await run.writeConfig(config); // on --resume too: the options the run goes on with (e.g. more --steps) are its options from now on
  const reference = config.klCoef > 0 ? await referencePolicy(policy, run, resume) : undefined;
  setLearningRate(policy, config, resume, log);
  const [taskRng, sampleRng, lossRng] = [state.taskRng, state.sampleRng, state.lossRng].map((words) =>
    Rng.fromState(words),
  ) as [Rng, Rng, Rng];
  const evaluate = evaluator(policy, config, setting, log, hooks.progress);
  const result: TrainResult = { runDir: run.dir, steps: state.step, stoppedBy: 'done' };
  if (!resume) {
    const before = warmStart ?? (await evaluate('before training'));
    result.before = before?.report;
    await run.writeEvaluation(
      before ? { before: before.report, before_outcomes: before.outcomes, before_kwargs: setting.kwargs } : {},
    );
  }
  if (config.tensorboard) run.useTensorBoard();
  const envs = await rolloutEnvs(config, setting, log);
  const started = performance.now() - state.seconds * 1000;
  const save = () =>
    run.saveStep(
      policy,
      {
        ...state,
        taskRng: taskRng.state(),
        sampleRng: sampleRng.state(),
        lossRng: lossRng.state(),
        seconds: (performance.now() - started) / 1000,
      },
      { env: config.env },
    );

  try {
    while (state.step < config.steps) {
      const stepStart = performance.now();
      // 1. Horizon.
      const horizon = horizonAt(setting.curriculum, state.step);
      // 2-4. Rollouts with reward parts, and advantages per turn (with dynamic sampling, over several rounds).
      const sampled = await sampleStep(policy, envs.envs, config, {
        horizon,
        step: state.step,
        taskRng,
        sampleRng,
        log,
      });
      // 5. Update.
      const updateStart = performance.now();
      const update = updatePolicy(policy, reference, sampled, config, setting.lossConfig, lossRng, log);
      const updateSeconds = (performance.now() - updateStart) / 1000;
      state.nanStreak = update.nonFinite > 0 ? state.nanStreak + 1 : 0;
      state.step += 1;
      // 6. Log: metrics (and a held-out evaluation every evalEvery steps), sampled trajectories, checkpoints.
      const stepSeconds = (performance.now() - stepStart) / 1000;
      const timing = {
        rounds: sampled.rounds,
        trainedGroups: sampled.trained.groups,
        horizon,
        updateSeconds,
        stepSeconds,
        elapsed: (performance.now() - started) / 1000,
      };
      const record = stepMetrics(state.step, sampled.batch, sampled.advantages, update, timing);
      if (config.evalEvery > 0 && state.step % config.evalEvery === 0 && state.step < config.steps)
        Object.assign(record, evaluationMetrics((await evaluate(`at step ${state.step}`))?.report));
      const trajectories = trajectoryRecords(state.step, sampled.batch.trajectories, sampled.advantages, {
        count: config.trajectoriesPerStep,
        spec: setting.envSpec,
        horizon,
      });
      await run.appendStep(record, trajectories);
      result.lastMetrics = record;
      hooks.onStep?.(record, config);
      if (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0) await save();
      const stop = stopReason(state, config, hooks.signal, run, log);
      if (stop) {
        result.stoppedBy = stop;
        break;
      }
    }
    await save();
    result.steps = state.step;
    if (result.stoppedBy === 'done') {
      const after = await evaluate('after training');
      result.after = after?.report;
      result.paired = after && pairedWithBefore(run, after, setting.kwargs, log);
      await run.writeEvaluation({ after: result.after, paired: result.paired }); // no comparison: none kept from before
    }
    await writeRunReport(run, log);
  } finally {
    await envs.close();
    run.close();
    try {
      reference?.dispose();
      policy.dispose();
    } catch {
      // After a WebAssembly fault the policy's memory cannot be freed; the error that caused it is the one to report.
    }
  }
  return result;
}

/** What the options make of the run: the env's spec, the curriculum, the env's kwargs and the loss's options. */
interface Setting {
  envSpec: EnvSpec;
  curriculum: Curriculum;
  /** The largest horizon the curriculum reaches: envs are made with it, and held-out episodes play at it. */
  maxHorizon: number;
  kwargs: Record<string, unknown>;
  lossConfig: LossConfig;
}

/**
 * The run's setting. Refuses IGPO on an env without an answer tool, before anything is trained (the rules
 * between options alone are the schema's: `trainConfigSchema`).
 */
function settingOf(config: TrainConfig): Setting {
  const envSpec = specOf(config.env);
  if (config.advantage === 'igpo' && !envSpec.answerTool) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `${config.env} has no answer tool, so IGPO's information gain cannot be scored; use --advantage grpo.`,
    );
  }
  const curriculum: Curriculum = config.curriculum ?? { kind: 'fixed', maxTurns: envSpec.maxTurns };
  return {
    envSpec,
    curriculum,
    maxHorizon: maxHorizon(curriculum),
    kwargs: { ...config.kwargs, ...(config.difficulty !== undefined ? { difficulty: config.difficulty } : {}) },
    lossConfig: lossConfigSchema.parse(pick(config, Object.keys(lossConfigSchema.shape))),
  };
}

/** Where a run starts: its policy and trainer state, and the warm start's held-out evaluation when it made one. */
interface StartingPoint {
  policy: Policy;
  state: TrainerState;
  warmStart?: Evaluation;
}

/** A held-out evaluation: its report, and each episode's outcome for a paired comparison. */
interface Evaluation {
  report: EvaluationReport;
  outcomes: EpisodeOutcome[];
}

/**
 * The evaluation after training against the one before (its episodes are kept in eval.json, so a resumed run
 * compares too), task by task with exact sign tests, logged in one line; undefined when there is no evaluation
 * before or it played other tasks (a run resumed with other evaluation options).
 */
function pairedWithBefore(
  run: RunDirectory,
  after: Evaluation,
  kwargs: Record<string, unknown>,
  log: (line: string) => void,
): PairedComparison | undefined {
  const file = run.evaluation();
  const before = file?.before as Partial<EvaluationReport> | undefined;
  const outcomes = file?.before_outcomes;
  if (!before || !outcomes) return undefined;
  const difference =
    taskSettingDifference({ ...before, kwargs: file?.before_kwargs }, { ...after.report, kwargs }) ??
    (outcomes.length === after.outcomes.length
      ? undefined
      : { key: 'outcomes', was: String(outcomes.length), now: String(after.outcomes.length) });
  if (difference) {
    log(
      `[train] no paired comparison: the evaluation before training played other tasks (${difference.key}: ${difference.was} against ${difference.now})`,
    );
    return undefined;
  }
  const paired = comparePaired(after.outcomes, outcomes, { samples: after.report.samples });
  log(
    `[train] paired, on the same ${paired.episodes} held-out tasks: solved after training only ${paired.solved_newly}, before only ${paired.solved_no_longer} (sign test p = ${formatPValue(paired.success_p)})`,
  );
  return paired;
}

/** A resumed run's policy and state (see `RunDirectory.resume`), when it has steps left to train. */
async function resumeRun(run: RunDirectory, config: TrainConfig, log: (line: string) => void): Promise<StartingPoint> {
  const { policy, state } = await run.resume(log);
  if (state.step >= config.steps) {
    policy.dispose();
    throw new TurngymError(
      'INVALID_OPTIONS',
      `${run.dir} is at step ${state.step} of its ${config.steps} steps already: give more --steps to train further (e.g. --resume ${run.dir} --steps ${state.step * 2}).`,
    );
  }
  return { policy, state };
}

/** A new run's policy (from --init, a supervised warm start, or fresh) and its state at step 0. */
async function startRun(
  run: RunDirectory,
  config: TrainConfig,
  setting: Setting,
  log: (line: string) => void,
  progress: TrainHooks['progress'],
): Promise<StartingPoint> {
  const state: TrainerState = {
    step: 0,
    taskRng: Rng.fromSeed(config.seed).state(),
    sampleRng: Rng.fromSeed(config.seed + 1).state(),
    lossRng: Rng.fromSeed(config.seed + 2).state(),
    nanStreak: 0,
    seconds: 0,
  };
  if (config.init) return { policy: await loadCheckpoint(await checkpointOf(config.init)), state };
  if (config.warmStartSteps === 0) return { policy: await freshPolicy(config, setting, log, progress), state };
  // Supervised warm start; its held-out evaluation is the "before RL" figure.
  const warm = await behaviourCloning({
    env: config.env,
    kwargs: setting.kwargs,
    episodes: config.warmStartEpisodes,
    steps: config.warmStartSteps,
    batchTokens: config.warmStartBatchTokens,
    learningRate: config.warmStartLearningRate,
    evalEpisodes: config.evalEpisodes,
    evalTemperature: config.evalTemperature,
    evalSamples: config.evalSamples,
    evalMaxTurns: setting.maxHorizon, // the "before" figure, at the horizon and temperature of the "after" one
    model: config.model,
    numbers: config.numbers,
    subwords: config.subwords,
    maxActionTokens: Math.max(48, config.maxActionTokens),
    seed: config.seed,
    log,
    progress,
  });
  await run.saveCheckpoint(CHECKPOINT_NAMES.warmStart, warm.policy, {
    env: config.env,
    sft: { ...warm.report, model: undefined },
  });
  return { policy: warm.policy, state, warmStart: { report: warm.report.heldout, outcomes: warm.heldoutOutcomes } };
}

/** A fresh policy whose tokenizer is fitted to oracle transcripts of the env. */
async function freshPolicy(
  config: TrainConfig,
  setting: Setting,
  log: (line: string) => void,
  progress: TrainHooks['progress'],
): Promise<Policy> {
  const env = await make(config.env, setting.kwargs);
  try {
    const seeds = Array.from({ length: 256 }, (_, i) => TOKENIZER_SEED_BASE + i);
    const transcripts = await collectDemonstrations(
      env,
      seeds,
      progress && ((done, total) => progress('tokenizer text', done, total)),
    );
    const tokenizer = fitTokenizer(setting.envSpec, transcripts, {
      numbers: config.numbers,
      subwords: config.subwords,
    });
    log(
      `[train] fresh policy; tokenizer fitted on 256 oracle episodes (${tokenizer.vocabSize} tokens). Warm-start with \`turngym sft\` and --init for faster learning.`,
    );
    const contextLength = config.model.contextLength ?? 256;
    return Policy.create({
      tokenizer,
      seed: config.seed,
      model: config.model,
      maxActionTokens: Math.min(Math.max(48, config.maxActionTokens), Math.floor(contextLength / 2) - 1),
    });
  } catch (error) {
    if (TurngymError.is(error, 'NOT_SUPPORTED')) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `${config.env} has no oracle to fit a tokenizer on; start from a checkpoint with --init.`,
      );
    }
    throw error;
  } finally {
    await env.close();
  }
}

/**
 * The reference policy of the KL penalty: the policy the run starts from, saved once as
 * `checkpoints/reference` (so `--resume` penalises against the same one) and loaded as a second policy.
 */
async function referencePolicy(policy: Policy, run: RunDirectory, resume: boolean | undefined): Promise<Policy> {
  const directory = run.checkpoint(CHECKPOINT_NAMES.reference);
  if (!resume)
    await run.saveCheckpoint(CHECKPOINT_NAMES.reference, policy, {
      role: 'the reference policy of the KL penalty (the starting policy)',
    });
  try {
    return await loadCheckpoint(directory);
  } catch (error) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `--kl-coef needs the run's reference policy in ${directory}, which is saved when a run starts with --kl-coef > 0 (${describeError(error)}); start a new run to use the KL penalty.`,
    );
  }
}

/** Sets the optimizer's rate and gradient clipping; notes a rate above the one an --init checkpoint ended at. */
function setLearningRate(
  policy: Policy,
  config: TrainConfig,
  resume: boolean | undefined,
  log: (line: string) => void,
): void {
  if (config.init && !resume && config.learningRate > policy.optimizer.learningRate) {
    log(
      `[train] note: --learning-rate ${config.learningRate} is above the rate ${config.init} ended its training at (${policy.optimizer.learningRate.toPrecision(3)}); ` +
        'from a sharp behaviour-cloned policy a larger rate can lower held-out success within a few steps (docs/training.md, "From a warm start").',
    );
  }
  policy.optimizer.learningRate = config.learningRate;
  policy.optimizer.config.clipNorm = config.maxGradNorm;
}

/** Held-out evaluation of the policy as it is (none with evalEpisodes 0), logged with `label`. */
function evaluator(
  policy: Policy,
  config: TrainConfig,
  setting: Setting,
  log: (line: string) => void,
  progress: TrainHooks['progress'],
) {
  return async (label: string): Promise<Evaluation | undefined> => {
    if (config.evalEpisodes === 0) return undefined;
    // At the horizon the curriculum ends on: the one the run trains the policy for.
    const { report, outcomes } = await evaluatePolicy(policy, config.env, {
      episodes: config.evalEpisodes,
      samples: config.evalSamples,
      kwargs: setting.kwargs,
      temperature: config.evalTemperature,
      maxTurns: setting.maxHorizon,
      onProgress: progress && ((done, total) => progress('held-out evaluation', done, total)),
    });
    const plays = config.evalSamples > 1 ? `, ${config.evalSamples} plays each` : '';
    const decoding = config.evalTemperature === 0 ? 'greedy' : `sampled at T ${config.evalTemperature}${plays}`;
    log(
      `[train] held-out ${label}: success ${formatSuccessRate(report.success_rate)}, return ${report.mean_return.toFixed(3)}, turns ${report.mean_turns.toFixed(2)} (${report.episodes} episodes, ${decoding}, at most ${report.max_turns} turns)`,
    );
    return { report, outcomes };
  };
}

/** The rollout envs, one per trajectory of a round: in this process, or on the env servers of `remote` (docs/scaling.md). */
async function rolloutEnvs(
  config: TrainConfig,
  setting: Setting,
  log: (line: string) => void,
): Promise<{ envs: Env[]; close: () => Promise<void> }> {
  const factory = await envFactory(config.remote, {
    token: process.env.TURNGYM_TOKEN,
    groundTruth: config.advantage === 'igpo',
    log,
  });
  const envs: Env[] = [];
  for (let i = 0; i < config.tasksPerStep * config.groupSize; i++) {
    envs.push(
      await factory.make(config.env, setting.kwargs, {
        maxTurns: Math.max(setting.envSpec.maxTurns, setting.maxHorizon),
      }),
    );
  }
  return {
    envs,
    close: async () => {
      await Promise.all(envs.map((env) => env.close().catch(() => undefined)));
      await factory.close();
    },
  };
}

/** A step's rollouts (every round), their advantages, and the trajectories (by index) that reach the update. */
interface SampledStep {
  batch: RolloutBatch;
  advantages: number[][];
  trained: { indices: number[]; groups: number };
  rounds: number;
}

/**
 * Steps 2-4: rollouts of `tasksPerStep` new tasks with their reward parts, and advantages per turn. With
 * dynamic sampling (maxSampleRounds > 1), more rounds of new tasks until tasksPerStep groups have a policy
 * gradient (advantages are group-local, so per round).
 */
async function sampleStep(
  policy: Policy,
  envs: readonly Env[],
  config: TrainConfig,
  context: { horizon: number; step: number; taskRng: Rng; sampleRng: Rng; log: (line: string) => void },
): Promise<SampledStep> {
  const round = async (index: number) => {
    const groupSeeds = Array.from({ length: config.tasksPerStep }, () => context.taskRng.int(RL_SEED_BASE, 0x7fffffff));
    const collected = await collectRollouts(policy, envs, groupSeeds, {
      maxTurns: context.horizon,
      temperature: config.temperature,
      topP: config.topP,
      maxActionTokens: Math.min(config.maxActionTokens, policy.maxActionTokens),
      sampleBatchTokens: config.sampleBatchTokens,
      envConcurrency: config.envConcurrency,
      formatPenalty: config.formatPenalty,
      informationGain: config.advantage === 'igpo' ? config.igMode : undefined,
      rng: context.sampleRng,
      log: context.log,
    });
    for (const trajectory of collected.trajectories) trajectory.group += index * config.tasksPerStep;
    return { batch: collected, advantages: computeAdvantages(collected.trajectories, config) };
  };
  const dynamicSampling = config.maxSampleRounds > 1;
  let { batch, advantages } = await round(0);
  const select = () =>
    dynamicSampling
      ? trainedTrajectories(batch.trajectories, advantages, config.tasksPerStep)
      : { indices: batch.trajectories.map((_, index) => index), groups: groupIndices(batch.trajectories).length };
  let trained = select();
  let rounds = 1;
  while (dynamicSampling && rounds < config.maxSampleRounds && trained.groups < config.tasksPerStep) {
    const more = await round(rounds);
    batch = mergeBatches(batch, more.batch);
    advantages = [...advantages, ...more.advantages];
    rounds += 1;
    trained = select();
  }
  if (dynamicSampling && trained.groups < config.tasksPerStep) {
    context.log(
      `[train] step ${context.step + 1}: ${trained.groups} of ${config.tasksPerStep} groups had a policy gradient after ${rounds} rounds of sampling (--max-sample-rounds); updating on those.`,
    );
  }
  return { batch, advantages, trained, rounds };
}

/** One step's rollouts from several rounds: every trajectory, and counts and times summed. */
function mergeBatches(a: RolloutBatch, b: RolloutBatch): RolloutBatch {
  return {
    trajectories: [...a.trajectories, ...b.trajectories],
    dropped: a.dropped + b.dropped,
    envSteps: a.envSteps + b.envSteps,
    sampledTokens: a.sampledTokens + b.sampledTokens,
    seconds: {
      env: a.seconds.env + b.seconds.env,
      sample: a.seconds.sample + b.seconds.sample,
      score: a.seconds.score + b.seconds.score,
    },
  };
}

/** Step 5: the update on the trajectories of the trained groups (with their reference log-probs for a KL penalty). */
function updatePolicy(
  policy: Policy,
  reference: Policy | undefined,
  sampled: SampledStep,
  config: TrainConfig,
  lossConfig: LossConfig,
  lossRng: Rng,
  log: (line: string) => void,
): UpdateSummary {
  // The KL penalty holds every sampled action near the reference, those the policy already gets right
  // in the whole group (zero advantage) included: they are the ones updates elsewhere would drift.
  const examples = trainingExamples(
    sampled.trained.indices.map((index) => sampled.batch.trajectories[index]!),
    sampled.trained.indices.map((index) => sampled.advantages[index]!),
    { keepZeroAdvantage: config.klCoef > 0 },
  );
  if (reference) addReferenceLogprobs(reference, examples, config);
  return runUpdates(policy, examples, config, lossConfig, lossRng, log);
}

/** Why the run stops after this step, if it does (said in the log): a loss not finite in nanPatience steps in a row, or the signal. */
function stopReason(
  state: TrainerState,
  config: TrainConfig,
  signal: AbortSignal | undefined,
  run: RunDirectory,
  log: (line: string) => void,
): 'nan' | 'signal' | undefined {
  if (state.nanStreak >= config.nanPatience) {
    log(
      `[train] stopping: the loss was not finite in ${state.nanStreak} consecutive steps (see actor/nonfinite_updates in metrics.jsonl).`,
    );
    return 'nan';
  }
  if (signal?.aborted) {
    log(`[train] interrupted at step ${state.step}: saving a checkpoint; continue with --resume ${run.dir}`);
    return 'signal';
  }
  return undefined;
}

/** Writes the run's report.html; a failure is logged, not thrown (the run itself is saved). */
async function writeRunReport(run: RunDirectory, log: (line: string) => void): Promise<void> {
  try {
    const report = await writeReport(run.dir);
    log(`[train] report: ${report.path}`);
  } catch (error) {
    log(`[train] could not write the report (${describeError(error)}); run \`turngym report ${run.dir}\` to retry.`);
  }
}

/** The largest horizon a curriculum reaches (envs are made with it; each episode sets its own). */
function maxHorizon(curriculum: Curriculum): number {
  if (curriculum.kind === 'fixed') return curriculum.maxTurns;
  if (curriculum.kind === 'scaling-inter') return Math.max(...curriculum.stages);
  return curriculum.max;
}

function pick(source: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => key in source).map((key) => [key, source[key]]));
}
