/**
 * Metrics with stable names (CleanRL/verl families), written one JSON object per training step to
 * `metrics.jsonl` in the run directory. Readers must tolerate a last line cut short by a crash.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

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
