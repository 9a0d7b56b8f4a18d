/**
 * Metrics with stable names (CleanRL/verl families), written one JSON object per training step to
 * `metrics.jsonl` in the run directory. Readers must tolerate a last line cut short by a crash.
 * `stepMetrics` computes a step's record from its rollouts, advantages and update.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { isFormatError } from '../core/errors.js';
import { successRate } from '../agent/agent.js';
import type { EvaluationReport } from '../agent/policy/evaluate.js';
import { groupIndices, hasNoGradient } from './advantages.js';
import type { RolloutBatch, Trajectory } from './rollout.js';
import type { UpdateSummary } from './update.js';

/** The metric names the trainer writes. Names never change meaning; new metrics get new names. */
export const METRICS = {
  successRate: 'charts/success_rate',
  episodicReturn: 'charts/episodic_return',
  entropy: 'actor/entropy',
  covMean: 'actor/cov_mean',
  covMax: 'actor/cov_max',
  clipFraction: 'actor/pg_clipfrac',
  ppoKl: 'actor/ppo_kl',
  klRef: 'actor/kl_loss',
  policyLoss: 'actor/pg_loss',
  gradNorm: 'actor/grad_norm',
  selectedTokens: 'actor/selected_tokens',
  maxTurns: 'rollout/max_turns',
  turnsMean: 'rollout/turns_mean',
  informationGain: 'rollout/ig_mean',
  formatErrors: 'rollout/format_error_rate',
  droppedTrajectories: 'rollout/dropped',
  zeroAdvantageGroups: 'rollout/zero_advantage_groups',
  solvedGroups: 'rollout/solved_groups',
  anySuccessGroups: 'rollout/any_success_groups',
  sampleRounds: 'rollout/sample_rounds',
  trainedGroups: 'rollout/trained_groups',
  tokensPerSecond: 'perf/tokens_per_s',
  envStepsPerSecond: 'perf/env_steps_per_s',
  timeEnv: 'perf/time_env_s',
  timeSample: 'perf/time_sample_s',
  timeScore: 'perf/time_score_s',
  timeUpdate: 'perf/time_update_s',
  timeStep: 'perf/time_step_s',
  advantageAbsMean: 'actor/advantage_abs_mean',
  nonFiniteUpdates: 'actor/nonfinite_updates',
  evalSuccessRate: 'eval/success_rate',
  evalReturn: 'eval/episodic_return',
} as const;

/** One line of metrics.jsonl. */
export interface MetricsRecord {
  step: number;
  /** Seconds since the run started. */
  time: number;
  [name: string]: number;
}

/** Appends metrics records to a JSONL file (synchronously, so a crash loses at most the current line). */
export class MetricsWriter {
  constructor(readonly path: string) {}

  write(record: MetricsRecord): void {
    const clean: Record<string, number | null> = {};
    for (const [key, value] of Object.entries(record)) clean[key] = Number.isFinite(value) ? value : null;
    appendFileSync(this.path, `${JSON.stringify(clean)}\n`);
  }
}

/**
 * Reads metrics.jsonl. Lines that do not parse (a line cut by a crash) are skipped and counted, so a
 * report of a crashed run still shows what is there.
 */
export function readMetrics(path: string): { records: MetricsRecord[]; skippedLines: number } {
  if (!existsSync(path)) return { records: [], skippedLines: 0 };
  const records: MetricsRecord[] = [];
  let skippedLines = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as MetricsRecord;
      if (typeof value === 'object' && value !== null && typeof value.step === 'number') records.push(value);
      else skippedLines++;
    } catch {
      skippedLines++;
    }
  }
  return { records, skippedLines };
}

const mean = (values: readonly number[]) =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;

/** What `stepMetrics` needs beside the rollouts, advantages and update: the step's shape and its clock. */
export interface StepTiming {
  /** Rounds of sampling (dynamic sampling), and the groups that reached the update. */
  rounds: number;
  trainedGroups: number;
  /** The horizon of the step's episodes. */
  horizon: number;
  updateSeconds: number;
  stepSeconds: number;
  /** Seconds since the run started (the record's `time`). */
  elapsed: number;
}

/** The metrics record of one training step (every trajectory of every round, advantages as computed). */
export function stepMetrics(
  step: number,
  batch: RolloutBatch,
  advantages: readonly number[][],
  update: UpdateSummary,
  timing: StepTiming,
): MetricsRecord {
  const trajectories = batch.trajectories;
  const turns = trajectories.flatMap((trajectory) => trajectory.turns);
  const first = update.metrics.slice(0, Math.max(1, Math.ceil(update.metrics.length / 2)));
  return {
    step,
    time: timing.elapsed,
    [METRICS.successRate]: successRate(trajectories) ?? Number.NaN, // unknown (info.success never set): written as null
    [METRICS.episodicReturn]: mean(trajectories.map((t) => t.return)),
    [METRICS.entropy]: mean(turns.flatMap((turn) => turn.entropies)),
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
    [METRICS.formatErrors]: mean(turns.map((turn) => (isFormatError(turn.info.error?.code) ? 1 : 0))), // counted with or without a penalty
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
    [METRICS.advantageAbsMean]: mean(advantages.flat().map(Math.abs)),
    [METRICS.nonFiniteUpdates]: update.nonFinite,
  };
}

/**
 * Shares of a step's groups: `rollout/zero_advantage_groups`, those whose every turn advantage is zero
 * (with GRPO: all returns equal), which give no policy gradient and reach the update only through a KL
 * penalty (`--kl-coef`); `rollout/solved_groups`, those in which every trajectory succeeded; and
 * `rollout/any_success_groups`, those in which at least one did: the groups whose outcome can tell the
 * samples apart (the others differ only by the format penalty, if at all).
 */
export function groupShares(
  trajectories: readonly Trajectory[],
  advantages: readonly number[][],
): Record<string, number> {
  const groups = groupIndices(trajectories);
  return {
    [METRICS.zeroAdvantageGroups]: mean(groups.map((members) => (hasNoGradient(members, advantages) ? 1 : 0))),
    [METRICS.solvedGroups]: mean(groups.map((members) => (members.every((i) => trajectories[i]!.success) ? 1 : 0))),
    [METRICS.anySuccessGroups]: mean(groups.map((members) => (members.some((i) => trajectories[i]!.success) ? 1 : 0))),
  };
}

/** A held-out evaluation during training as metrics (`eval/success_rate`: null when unknown). */
export function evaluationMetrics(report: EvaluationReport | undefined): Record<string, number> {
  if (!report) return {};
  return { [METRICS.evalSuccessRate]: report.success_rate ?? Number.NaN, [METRICS.evalReturn]: report.mean_return };
}
