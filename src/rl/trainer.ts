/**
 * The turn-level RL trainer. One training step:
 *
 *   1. horizon   = curriculum(step)                                   (fixed | scaling-inter | tti)
 *   2. rollouts  = G trajectories for each of `tasksPerStep` tasks     (batched sampling over an env pool)
 *   3. rewards   = outcome + format penalty (+ information gain per turn, IGPO)
 *   4. advantage = grpo (outcome z-scored in the group, gamma^(T-1-t) of it on turn t) | igpo (turn rewards z-scored, discounted per turn);
 *                  negative ones scaled by negativeWeight
 *   5. update    = `epochs` passes of `miniBatches` PPO-clip steps with entropy control (clip-cov, kl-cov, ...)
 *                  and, with klCoef > 0, a KL penalty to the starting policy
 *   6. log       = metrics.jsonl (stable names), sampled trajectories, checkpoints
 *
 * Everything that decides what happens next (weights, optimizer moments, the three RNG streams, the step)
 * is saved in checkpoints, so `resume` continues a run exactly.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { describeTools } from '../envs/actions.js';
import type { Env, EnvSpec } from '../envs/env.js';
import { describeError, isFormatError, TurngymError } from '../core/errors.js';
import { make, spec as specOf } from '../envs/registry.js';
import { Rng } from '../core/rng.js';
import { formatSuccessRate, successRate } from '../agent/agent.js';
import { type BackendName, initBackend } from '../agent/policy/backend.js';
import { CheckpointError, loadCheckpoint, readCheckpointConfig, saveCheckpoint } from '../agent/policy/checkpoint.js';
import { type EvaluationReport, evaluatePolicy } from '../agent/policy/evaluate.js';
import { Policy } from '../agent/policy/policy.js';
import { behaviourCloning, collectDemonstrations, fitTokenizer, type SftPhase, TOKENIZER_SEED_BASE } from '../agent/policy/sft.js';
import { grpoAdvantages, igpoAdvantages } from './advantages.js';
import { parseTrainConfig, type TrainConfig, type TrainOptions } from './config.js';
import { type Curriculum, horizonAt } from './curriculum.js';
import { envFactory } from './env-factory.js';
import { lossConfigSchema } from './losses.js';
import { METRICS, MetricsWriter, type MetricsRecord, readMetrics } from './metrics.js';
import { writeReport } from './report.js';
import { collectRollouts, type RolloutBatch, type Trajectory } from './rollout.js';
import { CHECKPOINT_NAMES, checkpointOf, RunDirectory, stepCheckpointName } from './run-directory.js';
import type { TrajectoryRecord } from './trajectories.js';
import { addReferenceLogprobs, type Example, groupIndices, runUpdates, type UpdateSummary } from './update.js';

/** First seed of RL training tasks: far from the SFT seeds (0...) and the held-out seeds (1,000,000...). */
export const RL_SEED_BASE = 2_000_000;

/** What a training run reports when it ends. */
export interface TrainResult {
  runDir: string;
  steps: number;
  /** Held-out evaluation before training (absent when resuming) and after. */
  before?: EvaluationReport;
  after?: EvaluationReport;
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

interface TrainerState {
  step: number;
  taskRng: number[];
  sampleRng: number[];
  lossRng: number[];
  nanStreak: number;
  /** Seconds of training so far (the `time` of metrics.jsonl), so a resumed run's clock goes on from there. */
  seconds: number;
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
  const { resume, overwrite, ...rest } = options;
  const config = parseTrainConfig(rest);
  const log = hooks.log ?? ((line: string) => console.error(line));
  const runDir = config.out;
  const run = new RunDirectory(runDir);
  const envSpec = specOf(config.env);
  const curriculum: Curriculum = config.curriculum ?? { kind: 'fixed', maxTurns: envSpec.maxTurns };
  const lossConfig = lossConfigSchema.parse(pick(config, Object.keys(lossConfigSchema.shape)));
  const kwargs = { ...config.kwargs, ...(config.difficulty !== undefined ? { difficulty: config.difficulty } : {}) };
  if (config.evalSamples > 1 && config.evalTemperature === 0) {
    throw new TurngymError('INVALID_OPTIONS', `--eval-samples ${config.evalSamples} at --eval-temperature 0 would play the same greedy episode ${config.evalSamples} times; set --eval-temperature above 0 (e.g. the rollout temperature, ${config.temperature}).`);
  }
  if (config.advantage === 'igpo' && config.formatPenaltyOn === 'turn') {
    throw new TurngymError(
      'INVALID_OPTIONS',
      "--format-penalty-on turn is for --advantage grpo: IGPO already puts each malformed turn's penalty on that turn (in its reward r_t, beside the information gain), never in the outcome; drop the option, or use --advantage grpo.",
    );
  }
  if (config.advantage === 'igpo' && !envSpec.answerTool) {
    throw new TurngymError('INVALID_OPTIONS', `${config.env} has no answer tool, so IGPO's information gain cannot be scored; use --advantage grpo.`);
  }

  if (resume && overwrite) throw new TurngymError('INVALID_OPTIONS', `--resume continues the run in ${runDir} and --overwrite deletes it: give one of them.`);
  if (!resume) await run.startNew({ overwrite });

  await initBackend(config.backend as BackendName | 'auto', log);
  await mkdir(run.path('checkpoints'), { recursive: true });

  // --- Policy and trainer state -------------------------------------------------------------------------
  let policy: Policy;
  let state: TrainerState;
  let warmStart: EvaluationReport | undefined;
  if (resume) {
    ({ policy, state } = await resumeFrom(run, log));
    if (state.step >= config.steps) {
      policy.dispose();
      throw new TurngymError('INVALID_OPTIONS', `${runDir} is at step ${state.step} of its ${config.steps} steps already: give more --steps to train further (e.g. --resume ${runDir} --steps ${state.step * 2}).`);
    }
  } else {
    if (config.init) policy = await loadCheckpoint(await checkpointOf(config.init));
    else if (config.warmStartSteps > 0) {
      // Supervised warm start; its held-out evaluation is the "before RL" figure.
      const warm = await behaviourCloning({
        env: config.env,
        kwargs,
        episodes: config.warmStartEpisodes,
        steps: config.warmStartSteps,
        batchTokens: config.warmStartBatchTokens,
        learningRate: config.warmStartLearningRate,
        evalEpisodes: config.evalEpisodes,
        evalTemperature: config.evalTemperature,
        evalSamples: config.evalSamples,
        evalMaxTurns: maxHorizon(curriculum), // the "before" figure, at the horizon and temperature of the "after" one
        model: config.model,
        numbers: config.numbers,
        maxActionTokens: Math.max(48, config.maxActionTokens),
        seed: config.seed,
        log,
        progress: hooks.progress,
      });
      policy = warm.policy;
      warmStart = warm.report.heldout;
      await saveCheckpoint(policy, run.checkpoint(CHECKPOINT_NAMES.warmStart), { env: config.env, sft: { ...warm.report, model: undefined } });
    } else policy = await freshPolicy(config, envSpec, kwargs, log, hooks.progress);
    state = {
      step: 0,
      taskRng: Rng.fromSeed(config.seed).state(),
      sampleRng: Rng.fromSeed(config.seed + 1).state(),
      lossRng: Rng.fromSeed(config.seed + 2).state(),
      nanStreak: 0,
      seconds: 0,
    };
  }
  // On --resume too: the options the run goes on with (e.g. more --steps) are the run's options from now on.
  await run.writeJson('config', config);
  const reference = config.klCoef > 0 ? await referencePolicy(policy, run, resume) : undefined;
  if (config.init && !resume && config.learningRate > policy.optimizer.learningRate) {
    log(
      `[train] note: --learning-rate ${config.learningRate} is above the rate ${config.init} ended its training at (${policy.optimizer.learningRate.toPrecision(3)}); ` +
        'from a sharp behaviour-cloned policy a larger rate can lower held-out success within a few steps (docs/training.md, "From a warm start").',
    );
  }
  policy.optimizer.learningRate = config.learningRate;
  policy.optimizer.config.clipNorm = config.maxGradNorm;
  const taskRng = Rng.fromState(state.taskRng);
  const sampleRng = Rng.fromState(state.sampleRng);
  const lossRng = Rng.fromState(state.lossRng);

  const metrics = new MetricsWriter(run.path('metrics'));
  const tensorboard = config.tensorboard ? new (await import('./tensorboard.js')).TensorBoardWriter(runDir) : undefined;
  const evaluate = async (label: string) => {
    if (config.evalEpisodes === 0) return undefined;
    // At the horizon the curriculum ends on: the one the run trains the policy for.
    const { report } = await evaluatePolicy(policy, config.env, {
      episodes: config.evalEpisodes,
      samples: config.evalSamples,
      kwargs,
      temperature: config.evalTemperature,
      maxTurns: maxHorizon(curriculum),
      onProgress: hooks.progress && ((done, total) => hooks.progress!('held-out evaluation', done, total)),
    });
    const plays = config.evalSamples > 1 ? `, ${config.evalSamples} plays each` : '';
    const decoding = config.evalTemperature === 0 ? 'greedy' : `sampled at T ${config.evalTemperature}${plays}`;
    log(
      `[train] held-out ${label}: success ${formatSuccessRate(report.success_rate)}, return ${report.mean_return.toFixed(3)}, turns ${report.mean_turns.toFixed(2)} (${report.episodes} episodes, ${decoding}, at most ${report.max_turns} turns)`,
    );
    return report;
  };

  const result: TrainResult = { runDir, steps: state.step, stoppedBy: 'done' };
  if (!resume) {
    result.before = warmStart ?? (await evaluate('before training'));
    await run.writeJson('evaluation', { before: result.before });
  }

  const batchSize = config.tasksPerStep * config.groupSize;
  const envs: Env[] = [];
  // Rollout envs: in this process, or on the env servers of `remote` (a pool with failover; see docs/scaling.md).
  const factory = await envFactory(config.remote, { token: process.env.TURNGYM_TOKEN, groundTruth: config.advantage === 'igpo', log });
  for (let i = 0; i < batchSize; i++) envs.push(await factory.make(config.env, kwargs, { maxTurns: Math.max(envSpec.maxTurns, maxHorizon(curriculum)) }));
  const started = performance.now() - state.seconds * 1000;
  const save = async () => {
    const snapshot: TrainerState = {
      step: state.step,
      taskRng: taskRng.state(),
      sampleRng: sampleRng.state(),
      lossRng: lossRng.state(),
      nanStreak: state.nanStreak,
      seconds: (performance.now() - started) / 1000,
    };
    await saveCheckpoint(policy, run.checkpoint(stepCheckpointName(state.step)), { trainer: snapshot, env: config.env });
    await run.setLatest(state.step);
  };

  try {
    while (state.step < config.steps) {
      const stepStart = performance.now();
      const horizon = horizonAt(curriculum, state.step);
      // 2-4. Rollouts with reward parts, and advantages per turn; with dynamic sampling, more rounds of new
      // tasks until tasksPerStep groups have a policy gradient (advantages are group-local, so per round).
      const rollouts = async (round: number) => {
        const groupSeeds = Array.from({ length: config.tasksPerStep }, () => taskRng.int(RL_SEED_BASE, 0x7fffffff));
        const collected = await collectRollouts(policy, envs, groupSeeds, {
          maxTurns: horizon,
          temperature: config.temperature,
          topP: config.topP,
          maxActionTokens: Math.min(config.maxActionTokens, policy.maxActionTokens),
          sampleBatchTokens: config.sampleBatchTokens,
          envConcurrency: config.envConcurrency,
          formatPenalty: config.formatPenalty,
          informationGain: config.advantage === 'igpo' ? config.igMode : undefined,
          rng: sampleRng,
          log,
        });
        for (const trajectory of collected.trajectories) trajectory.group += round * config.tasksPerStep;
        return { batch: collected, advantages: computeAdvantages(collected.trajectories, config) };
      };
      const dynamicSampling = config.maxSampleRounds > 1;
      const select = () =>
        dynamicSampling
          ? trainedTrajectories(batch.trajectories, advantages, config.tasksPerStep)
          : { indices: batch.trajectories.map((_, index) => index), groups: groupIndices(batch.trajectories).length };
      let { batch, advantages } = await rollouts(0);
      let trained = select();
      let rounds = 1;
      while (dynamicSampling && rounds < config.maxSampleRounds && trained.groups < config.tasksPerStep) {
        const more = await rollouts(rounds);
        batch = mergeBatches(batch, more.batch);
        advantages = [...advantages, ...more.advantages];
        rounds += 1;
        trained = select();
      }
      if (dynamicSampling && trained.groups < config.tasksPerStep) {
        log(`[train] step ${state.step + 1}: ${trained.groups} of ${config.tasksPerStep} groups had a policy gradient after ${rounds} rounds of sampling (--max-sample-rounds); updating on those.`);
      }

      // 5. Updates.
      const updateStart = performance.now();
      // The KL penalty holds every sampled action near the reference, those the policy already gets right
      // in the whole group (zero advantage) included: they are the ones updates elsewhere would drift.
      const examples = trainingExamples(
        trained.indices.map((index) => batch.trajectories[index]!),
        trained.indices.map((index) => advantages[index]!),
        { keepZeroAdvantage: config.klCoef > 0 },
      );
      if (reference) addReferenceLogprobs(reference, examples, config);
      const update = runUpdates(policy, examples, config, lossConfig, lossRng, log);
      const updateSeconds = (performance.now() - updateStart) / 1000;
      state.nanStreak = update.nonFinite > 0 ? state.nanStreak + 1 : 0;
      state.step += 1;

      // 6. Metrics, trajectories, checkpoints.
      const record = stepMetrics(state.step, batch, advantages, update, {
        rounds,
        trainedGroups: trained.groups,
        horizon,
        updateSeconds,
        stepSeconds: (performance.now() - stepStart) / 1000,
        elapsed: (performance.now() - started) / 1000,
      });
      if (config.evalEvery > 0 && state.step % config.evalEvery === 0 && state.step < config.steps) {
        const report = await evaluate(`at step ${state.step}`);
        if (report) {
          record[METRICS.evalSuccessRate] = report.success_rate ?? Number.NaN; // unknown: written as null
          record[METRICS.evalReturn] = report.mean_return;
        }
      }
      metrics.write(record);
      tensorboard?.scalars(state.step, record);
      await writeTrajectories(run.path('trajectories'), state.step, batch.trajectories, advantages, config, envSpec, horizon);
      result.lastMetrics = record;
      hooks.onStep?.(record, config);
      if (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0) await save();
      if (state.nanStreak >= config.nanPatience) {
        log(`[train] stopping: the loss was not finite in ${state.nanStreak} consecutive steps (see actor/nonfinite_updates in metrics.jsonl).`);
        result.stoppedBy = 'nan';
        break;
      }
      if (hooks.signal?.aborted) {
        log(`[train] interrupted at step ${state.step}: saving a checkpoint; continue with --resume ${runDir}`);
        result.stoppedBy = 'signal';
        break;
      }
    }
    await save();
    result.steps = state.step;
    if (result.stoppedBy === 'done') {
      result.after = await evaluate('after training');
      await run.writeJson('evaluation', await mergeEval(run, result));
    }
    try {
      const report = await writeReport(runDir);
      log(`[train] report: ${report.path}`);
    } catch (error) {
      log(`[train] could not write the report (${describeError(error)}); run \`turngym report ${runDir}\` to retry.`);
    }
  } finally {
    await Promise.all(envs.map((env) => env.close().catch(() => undefined)));
    await factory.close();
    tensorboard?.close?.();
    try {
      reference?.dispose();
      policy.dispose();
    } catch {
      // After a WebAssembly fault the policy's memory cannot be freed; the error that caused it is the one to report.
    }
  }
  return result;
}

/**
 * The reference policy of the KL penalty: the policy the run starts from, saved once as
 * `checkpoints/reference` (so `--resume` penalises against the same one) and loaded as a second policy.
 */
async function referencePolicy(policy: Policy, run: RunDirectory, resume: boolean | undefined): Promise<Policy> {
  const directory = run.checkpoint(CHECKPOINT_NAMES.reference);
  if (!resume) await saveCheckpoint(policy, directory, { role: 'the reference policy of the KL penalty (the starting policy)' });
  try {
    return await loadCheckpoint(directory);
  } catch (error) {
    throw new TurngymError('INVALID_OPTIONS', `--kl-coef needs the run's reference policy in ${directory}, which is saved when a run starts with --kl-coef > 0 (${describeError(error)}); start a new run to use the KL penalty.`);
  }
}

/** The largest horizon a curriculum reaches (envs are made with it; each episode sets its own). */
function maxHorizon(curriculum: Curriculum): number {
  if (curriculum.kind === 'fixed') return curriculum.maxTurns;
  if (curriculum.kind === 'scaling-inter') return Math.max(...curriculum.stages);
  return curriculum.max;
}

/** A fresh policy whose tokenizer is fitted to oracle transcripts of the env. */
async function freshPolicy(config: TrainConfig, envSpec: EnvSpec, kwargs: Record<string, unknown>, log: (line: string) => void, progress: TrainHooks['progress']): Promise<Policy> {
  const env = await make(config.env, kwargs);
  try {
    const seeds = Array.from({ length: 256 }, (_, i) => TOKENIZER_SEED_BASE + i);
    const transcripts = await collectDemonstrations(env, seeds, progress && ((done, total) => progress('tokenizer text', done, total)));
    const tokenizer = fitTokenizer(envSpec, transcripts, { numbers: config.numbers });
    log(`[train] fresh policy; tokenizer fitted on 256 oracle episodes (${tokenizer.vocabSize} tokens). Warm-start with \`turngym sft\` and --init for faster learning.`);
    const contextLength = config.model.contextLength ?? 256;
    return Policy.create({ tokenizer, seed: config.seed, model: config.model, maxActionTokens: Math.min(Math.max(48, config.maxActionTokens), Math.floor(contextLength / 2) - 1) });
  } catch (error) {
    if (TurngymError.is(error, 'NOT_SUPPORTED')) {
      throw new TurngymError('INVALID_OPTIONS', `${config.env} has no oracle to fit a tokenizer on; start from a checkpoint with --init.`);
    }
    throw error;
  } finally {
    await env.close();
  }
}

/** Per-turn advantages of every trajectory (same shape as their turns). */
export function computeAdvantages(
  trajectories: readonly Trajectory[],
  config: Pick<TrainConfig, 'advantage' | 'alpha' | 'gamma' | 'igNormalization'> & Partial<Pick<TrainConfig, 'negativeWeight' | 'outcomeReward' | 'formatPenaltyOn'>>,
): number[][] {
  const outcomeOf = (trajectory: Trajectory) => (config.outcomeReward === 'success' ? (trajectory.success ? 1 : 0) : trajectory.outcome);
  const advantages: number[][] = trajectories.map((trajectory) => trajectory.turns.map(() => 0));
  // GRPO's format penalty either joins the return before the z-score or stays on its own turn after it.
  const penaltyInReturn = (config.formatPenaltyOn ?? 'return') === 'return';
  for (const members of groupIndices(trajectories)) {
    if (members.length < 2) continue; // a group cut to one trajectory has no baseline
    const group = members.map((index) => trajectories[index]!);
    if (config.advantage === 'grpo') {
      const returns = group.map((trajectory) => outcomeOf(trajectory) + (penaltyInReturn ? trajectory.turns.reduce((sum, turn) => sum + turn.rewards.format, 0) : 0));
      const scores = grpoAdvantages(returns);
      members.forEach((index, g) => {
        const turns = trajectories[index]!.turns;
        advantages[index] = turns.map((turn, t) => scores[g]! * config.gamma ** (turns.length - 1 - t) + (penaltyInReturn ? 0 : turn.rewards.format));
      });
    } else {
      const scores = igpoAdvantages(
        group.map((trajectory) => ({ turns: trajectory.turns.map((turn) => turn.rewards), outcome: outcomeOf(trajectory) })),
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

const isZeroAdvantage = (advantage: number) => Math.abs(advantage) < 1e-8;

/**
 * Training sequences. When every turn's context is a prefix of the next one (no turn was dropped to fit the
 * context), a trajectory is one sequence whose targets are all its action tokens: one forward pass instead of
 * one per turn, with exactly the same log-probs. Otherwise each turn is its own sequence. Turns with zero
 * advantage carry no policy gradient and are left out, unless `keepZeroAdvantage` (a KL penalty to the
 * reference acts on every action token, including those of groups whose rewards were all equal).
 */
export function trainingExamples(trajectories: readonly Trajectory[], advantages: readonly number[][], options: { keepZeroAdvantage?: boolean } = {}): Example[] {
  const examples: Example[] = [];
  const kept = (advantage: number) => options.keepZeroAdvantage === true || !isZeroAdvantage(advantage);
  trajectories.forEach((trajectory, i) => {
    const turns = trajectory.turns.map((turn, t) => ({ turn, advantage: advantages[i]![t]! })).filter(({ turn, advantage }) => kept(advantage) && turn.tokens.length > 0);
    if (turns.length === 0) return;
    const trajectoryTokens = turns.reduce((sum, { turn }) => sum + turn.tokens.length, 0);
    if (isPrefixChain(trajectory)) {
      const last = trajectory.turns[trajectory.turns.length - 1]!;
      const tokens = [...last.context, ...last.tokens];
      const targetMask = tokens.map(() => 0);
      const oldLogprobs: number[] = [];
      const tokenAdvantages: number[] = [];
      for (const { turn, advantage } of turns) {
        turn.tokens.forEach((_, k) => {
          targetMask[turn.context.length + k] = 1;
        });
        oldLogprobs.push(...turn.logprobs);
        tokenAdvantages.push(...turn.tokens.map(() => advantage));
      }
      examples.push({ sequence: { tokens, targetMask }, oldLogprobs, advantages: tokenAdvantages, trajectoryTokens, group: trajectory.group });
      return;
    }
    for (const { turn, advantage } of turns) {
      examples.push({
        sequence: { tokens: [...turn.context, ...turn.tokens], targetMask: [...turn.context.map(() => 0), ...turn.tokens.map(() => 1)] },
        oldLogprobs: turn.logprobs,
        advantages: turn.tokens.map(() => advantage),
        trajectoryTokens,
        group: trajectory.group,
      });
    }
  });
  return examples;
}

/** True when each turn's context followed by its action tokens is a prefix of the next turn's context. */
function isPrefixChain(trajectory: Trajectory): boolean {
  for (let t = 0; t + 1 < trajectory.turns.length; t++) {
    const turn = trajectory.turns[t]!;
    const next = trajectory.turns[t + 1]!.context;
    const head = [...turn.context, ...turn.tokens];
    if (next.length < head.length) return false;
    for (let k = 0; k < head.length; k++) if (next[k] !== head[k]) return false;
  }
  return true;
}

const mean = (values: readonly number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);

/**
 * Shares of a step's groups: `rollout/zero_advantage_groups`, those whose every turn advantage is zero
 * (with GRPO: all returns equal), which give no policy gradient and reach the update only through a KL
 * penalty (`--kl-coef`); `rollout/solved_groups`, those in which every trajectory succeeded; and
 * `rollout/any_success_groups`, those in which at least one did: the groups whose outcome can tell the
 * samples apart (the others differ only by the format penalty, if at all).
 */
export function groupShares(trajectories: readonly Trajectory[], advantages: readonly number[][]): Record<string, number> {
  const groups = groupIndices(trajectories);
  return {
    [METRICS.zeroAdvantageGroups]: mean(groups.map((members) => (hasNoGradient(members, advantages) ? 1 : 0))),
    [METRICS.solvedGroups]: mean(groups.map((members) => (members.every((i) => trajectories[i]!.success) ? 1 : 0))),
    [METRICS.anySuccessGroups]: mean(groups.map((members) => (members.some((i) => trajectories[i]!.success) ? 1 : 0))),
  };
}

/** True when every turn advantage of the group's trajectories is zero: the group gives no policy gradient. */
function hasNoGradient(members: readonly number[], advantages: readonly number[][]): boolean {
  return members.every((i) => advantages[i]!.every(isZeroAdvantage));
}

/**
 * Dynamic sampling (DAPO's group filter): the trajectories of the first `limit` groups with a policy
 * gradient, in the order the groups first appear (a step's rounds, each sorted by group). Groups whose
 * every advantage is zero (solved or failed in every sample, with GRPO) are left out; `groups` is how
 * many were kept.
 */
export function trainedTrajectories(trajectories: readonly Trajectory[], advantages: readonly number[][], limit: number): { indices: number[]; groups: number } {
  const kept = groupIndices(trajectories)
    .filter((members) => !hasNoGradient(members, advantages))
    .slice(0, limit);
  return { indices: kept.flat().sort((a, b) => a - b), groups: kept.length };
}

/** One step's rollouts from several rounds: every trajectory, and counts and times summed. */
function mergeBatches(a: RolloutBatch, b: RolloutBatch): RolloutBatch {
  return {
    trajectories: [...a.trajectories, ...b.trajectories],
    dropped: a.dropped + b.dropped,
    envSteps: a.envSteps + b.envSteps,
    sampledTokens: a.sampledTokens + b.sampledTokens,
    seconds: { env: a.seconds.env + b.seconds.env, sample: a.seconds.sample + b.seconds.sample, score: a.seconds.score + b.seconds.score },
  };
}

function stepMetrics(
  step: number,
  batch: RolloutBatch,
  advantages: readonly number[][],
  update: UpdateSummary,
  timing: { rounds: number; trainedGroups: number; horizon: number; updateSeconds: number; stepSeconds: number; elapsed: number },
): MetricsRecord {
  const trajectories = batch.trajectories;
  const turns = trajectories.flatMap((trajectory) => trajectory.turns);
  const tokenEntropies = turns.flatMap((turn) => turn.entropies);
  const first = update.metrics.slice(0, Math.max(1, Math.ceil(update.metrics.length / 2)));
  const record: MetricsRecord = {
    step,
    time: timing.elapsed,
    [METRICS.successRate]: successRate(trajectories) ?? Number.NaN, // unknown (info.success never set): written as null
    [METRICS.episodicReturn]: mean(trajectories.map((t) => t.outcome)),
    [METRICS.entropy]: mean(tokenEntropies),
    [METRICS.covMean]: mean(first.map((m) => m.cov_mean)),
    [METRICS.covMax]: mean(first.map((m) => m.cov_max)),
    [METRICS.clipFraction]: mean(update.metrics.map((m) => m.pg_clipfrac)),
    [METRICS.ppoKl]: mean(update.metrics.map((m) => m.ppo_kl)),
    [METRICS.klRef]: mean(update.metrics.map((m) => m.kl_ref)),
    [METRICS.policyLoss]: mean(update.losses),
    [METRICS.gradNorm]: mean(update.gradNorms),
    [METRICS.selectedTokens]: update.metrics.reduce((sum, m) => sum + m.selected, 0),
    [METRICS.maxTurns]: timing.horizon,
    [METRICS.turnsMean]: mean(trajectories.map((t) => t.turns.length)),
    [METRICS.informationGain]: mean(turns.map((turn) => turn.rewards.informationGain)),
    [METRICS.formatErrors]: mean(turns.map((turn) => (isFormatError(turn.error) ? 1 : 0))), // counted with or without a penalty
    [METRICS.droppedTrajectories]: batch.dropped,
    ...groupShares(trajectories, advantages),
    [METRICS.sampleRounds]: timing.rounds,
    [METRICS.trainedGroups]: timing.trainedGroups,
    [METRICS.tokensPerSecond]: (batch.sampledTokens + update.tokens) / timing.stepSeconds,
    [METRICS.envStepsPerSecond]: batch.envSteps / timing.stepSeconds,
    [METRICS.timeEnv]: batch.seconds.env,
    [METRICS.timeSample]: batch.seconds.sample,
    [METRICS.timeScore]: batch.seconds.score,
    [METRICS.timeUpdate]: timing.updateSeconds,
    [METRICS.timeStep]: timing.stepSeconds,
    'actor/advantage_abs_mean': mean(advantages.flat().map(Math.abs)),
    'actor/nonfinite_updates': update.nonFinite,
  };
  return record;
}

async function writeTrajectories(path: string, step: number, trajectories: readonly Trajectory[], advantages: readonly number[][], config: TrainConfig, spec: EnvSpec, horizon: number): Promise<void> {
  if (config.trajectoriesPerStep === 0 || trajectories.length === 0) return;
  // One per group first (varied tasks), then the rest.
  const chosen: number[] = [];
  const seenGroups = new Set<number>();
  trajectories.forEach((trajectory, index) => {
    if (!seenGroups.has(trajectory.group)) {
      seenGroups.add(trajectory.group);
      chosen.push(index);
    }
  });
  for (let index = 0; index < trajectories.length && chosen.length < config.trajectoriesPerStep; index++) if (!chosen.includes(index)) chosen.push(index);
  const tools = spec.tools.map((tool) => ({ name: tool.name, description: describeTools([tool]) }));
  const lines = chosen.slice(0, config.trajectoriesPerStep).map((index) => {
    const trajectory = trajectories[index]!;
    const record: TrajectoryRecord = {
      step,
      env: spec.id,
      seed: trajectory.seed,
      group: trajectory.group,
      prompt: trajectory.prompt,
      tools,
      ...(trajectory.initialAnswerLogprob !== undefined ? { initial_answer_probability: Math.exp(trajectory.initialAnswerLogprob) } : {}),
      turns: trajectory.turns.map((turn, t) => ({
        action: turn.text,
        observation: turn.observation,
        reward: turn.rewards.env,
        format: turn.rewards.format,
        ...(turn.answerLogprob !== undefined ? { answer_probability: Math.exp(turn.answerLogprob), information_gain: turn.rewards.informationGain } : {}),
        advantage: advantages[index]![t]!,
        ...(turn.error ? { error: turn.error } : {}),
      })),
      outcome: trajectory.outcome,
      success: trajectory.success,
      return: trajectory.outcome,
      truncated: trajectory.truncated,
      max_turns: horizon,
    };
    return JSON.stringify(record);
  });
  await writeFile(path, `${lines.join('\n')}\n`, { flag: 'a' });
}

/**
 * The policy and trainer state `--resume` continues from: the checkpoint `checkpoints/latest.json` names.
 * Anything wrong with it (the pointer, a checkpoint file, the trainer state) is one line saying what and
 * what to do. The run's per-step files are then put back to that checkpoint's step (records of later steps
 * and lines cut short are dropped), so a run killed between writing a step's records and saving its
 * checkpoint does not list that step twice.
 */
async function resumeFrom(run: RunDirectory, log: (line: string) => void): Promise<{ policy: Policy; state: TrainerState }> {
  const latest = await run.latest();
  const cannot = async (problem: string, cause?: unknown) =>
    new TurngymError('BAD_CHECKPOINT', `Cannot resume ${run.dir} from ${latest.directory}: ${problem} ${await run.resumeAdvice(latest.name)}`, { cause });
  let state: TrainerState;
  let policy: Policy;
  try {
    const { metadata } = await readCheckpointConfig(latest.directory);
    const problem = trainerStateProblem(metadata.trainer);
    if (problem) throw await cannot(`its trainer state (the step and random streams, in config.json) is invalid: ${problem}.`);
    const saved = metadata.trainer as Omit<TrainerState, 'nanStreak' | 'seconds'> & { nanStreak?: number; seconds?: number };
    // Checkpoints saved before the clock was kept in them: the time metrics.jsonl gives their step.
    const seconds = saved.seconds ?? readMetrics(run.path('metrics')).records.findLast((record) => record.step === saved.step)?.time ?? 0;
    state = { ...saved, nanStreak: saved.nanStreak ?? 0, seconds };
    policy = await loadCheckpoint(latest.directory);
  } catch (error) {
    if (error instanceof CheckpointError) throw await cannot(error.problem, error);
    throw error;
  }
  log(`[train] resuming ${run.dir} at step ${state.step} from ${latest.directory}`);
  const dropped = await run.truncateAfter(state.step);
  if (dropped.length > 0) log(`[train] dropped ${dropped.join(', ')}: records of steps after ${latest.name} (the run stopped before saving a later checkpoint), or cut short`);
  return { policy, state };
}

/** What is wrong with a checkpoint's trainer state, or undefined when it is one. */
function trainerStateProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'there is none';
  const state = value as Record<string, unknown>;
  const isCount = (field: unknown) => typeof field === 'number' && Number.isSafeInteger(field) && field >= 0;
  if (!isCount(state.step)) return `step is ${JSON.stringify(state.step)}, not an integer >= 0`;
  if (state.nanStreak !== undefined && !isCount(state.nanStreak)) return `nanStreak is ${JSON.stringify(state.nanStreak)}, not an integer >= 0`;
  if (state.seconds !== undefined && !(typeof state.seconds === 'number' && Number.isFinite(state.seconds) && state.seconds >= 0)) return `seconds is ${JSON.stringify(state.seconds)}, not a number >= 0`;
  for (const stream of ['taskRng', 'sampleRng', 'lossRng']) {
    const words = state[stream];
    if (!Array.isArray(words) || words.length !== 4 || !words.every((word) => Number.isInteger(word) && word >= -(2 ** 31) && word < 2 ** 32)) {
      return `${stream} is not the state of a random stream (4 32-bit integers)`;
    }
  }
  return undefined;
}

async function mergeEval(run: RunDirectory, result: TrainResult) {
  let previous: { before?: EvaluationReport } = {};
  try {
    previous = JSON.parse(await readFile(run.path('evaluation'), 'utf8')) as { before?: EvaluationReport };
  } catch {
    // first evaluation of this run
  }
  return { before: result.before ?? previous.before, after: result.after };
}

function pick(source: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => key in source).map((key) => [key, source[key]]));
}
