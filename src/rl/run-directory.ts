/**
 * Reading a run directory (`runs/<name>/`) as the trainer leaves it: `config.json`, `metrics.jsonl`,
 * `trajectories.jsonl`, `eval.json`, `checkpoints/`. A run may have crashed or still be running, so every
 * file is optional and a line cut short is skipped; what is missing or broken is described in `notes`
 * (shown at the top of the report) instead of failing. Only a path that is not a run directory at all is
 * an error.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { TurngymError } from '../envs/errors.js';
import { type MetricsRecord, readMetrics } from './metrics.js';
import type { TrajectoryRecord } from './trajectories.js';

/** The file names of a run directory. */
export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  trajectories: 'trajectories.jsonl',
  evaluation: 'eval.json',
  checkpoints: 'checkpoints',
  report: 'report.html',
} as const;

/** Held-out evaluation summary, as in `eval.json`. */
export interface EvaluationSummary {
  success_rate: number;
  mean_return: number;
  mean_turns: number;
  episodes: number;
}

/** `eval.json`: held-out evaluation before and after training (either may be missing in a crashed run). */
export interface EvaluationFile {
  before?: EvaluationSummary;
  after?: EvaluationSummary;
}

/** Everything read from one run directory. */
export interface RunData {
  /** Display name: the directory's name. */
  name: string;
  /** Absolute path of the run directory. */
  dir: string;
  /** The trainer's options, or undefined when config.json is missing or unreadable. */
  config?: Record<string, unknown>;
  metrics: MetricsRecord[];
  trajectories: TrajectoryRecord[];
  evaluation?: EvaluationFile;
  /** Checkpoint names found in checkpoints/. */
  checkpoints: string[];
  /** What is missing or was skipped, in words (e.g. "metrics.jsonl: 1 line could not be read ..."). */
  notes: string[];
}

/**
 * Reads a run directory. Throws a `TurngymError` (`INVALID_OPTIONS`) when `dir` does not exist, is not a
 * directory, or holds none of the run files; anything else that is missing or broken becomes a note.
 */
export function readRun(dir: string): RunData {
  const absolute = resolve(dir);
  if (!existsSync(absolute)) {
    throw new TurngymError('INVALID_OPTIONS', `No run directory at '${dir}' (${absolute} does not exist). Give the path of a run, e.g. runs/quickstart.`);
  }
  if (!statSync(absolute).isDirectory()) {
    throw new TurngymError('INVALID_OPTIONS', `'${dir}' is a file, not a run directory. Give the directory that holds metrics.jsonl and config.json.`);
  }
  const present = Object.values(RUN_FILES).filter((file) => file !== RUN_FILES.report && existsSync(resolve(absolute, file)));
  if (present.length === 0) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `'${dir}' does not look like a run directory: it has none of ${RUN_FILES.config}, ${RUN_FILES.metrics}, ${RUN_FILES.trajectories}, ${RUN_FILES.evaluation}, ${RUN_FILES.checkpoints}/.`,
    );
  }

  const notes: string[] = [];
  const config = readConfig(resolve(absolute, RUN_FILES.config), notes);

  const metricsPath = resolve(absolute, RUN_FILES.metrics);
  const { records: metrics, skippedLines } = readMetrics(metricsPath);
  if (!existsSync(metricsPath)) notes.push(`${RUN_FILES.metrics} is missing: no training curves to plot (the run may have stopped before its first step).`);
  else if (metrics.length === 0 && skippedLines === 0) notes.push(`${RUN_FILES.metrics} is empty: no training step was recorded yet.`);
  if (skippedLines > 0) notes.push(`${RUN_FILES.metrics}: ${plural(skippedLines, 'line')} could not be read and ${skippedLines === 1 ? 'was' : 'were'} skipped (a line cut short by a crash, or not JSON).`);

  const trajectories = readTrajectories(resolve(absolute, RUN_FILES.trajectories), notes);
  const evaluation = readEvaluation(resolve(absolute, RUN_FILES.evaluation), notes);

  const checkpointDir = resolve(absolute, RUN_FILES.checkpoints);
  const checkpoints = existsSync(checkpointDir) && statSync(checkpointDir).isDirectory() ? readdirSync(checkpointDir).sort() : [];

  return { name: basename(absolute), dir: absolute, config, metrics, trajectories, evaluation, checkpoints, notes };
}

/**
 * Reads trajectories.jsonl: one `TrajectoryRecord` per line. Lines that do not parse or lack the record's
 * shape (a line cut by a crash) are skipped, and counted in `notes`.
 */
export function readTrajectories(path: string, notes: string[] = []): TrajectoryRecord[] {
  if (!existsSync(path)) {
    notes.push(`${RUN_FILES.trajectories} is missing: no trajectories were recorded.`);
    return [];
  }
  const records: TrajectoryRecord[] = [];
  let skipped = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as TrajectoryRecord;
      if (isTrajectory(value)) records.push(value);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  if (skipped > 0) notes.push(`${RUN_FILES.trajectories}: ${plural(skipped, 'line')} could not be read and ${skipped === 1 ? 'was' : 'were'} skipped (a line cut short by a crash, or not a trajectory record).`);
  return records;
}

function isTrajectory(value: unknown): value is TrajectoryRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<TrajectoryRecord>;
  return typeof record.step === 'number' && typeof record.prompt === 'string' && Array.isArray(record.turns) && record.turns.every((turn) => typeof turn === 'object' && turn !== null && typeof turn.action === 'string');
}

function readConfig(path: string, notes: string[]): Record<string, unknown> | undefined {
  if (!existsSync(path)) {
    notes.push(`${RUN_FILES.config} is missing: the run's options are unknown.`);
    return undefined;
  }
  const value = readJson(path, notes);
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    notes.push(`${RUN_FILES.config} is not a JSON object; it is ignored.`);
    return undefined;
  }
  return value as Record<string, unknown>;
}

function readEvaluation(path: string, notes: string[]): EvaluationFile | undefined {
  if (!existsSync(path)) return undefined;
  const value = readJson(path, notes) as EvaluationFile | undefined;
  if (value === undefined) return undefined;
  const evaluation: EvaluationFile = {};
  for (const phase of ['before', 'after'] as const) {
    const summary = value?.[phase];
    if (summary === undefined) continue;
    if (typeof summary === 'object' && summary !== null && typeof summary.success_rate === 'number') evaluation[phase] = summary;
    else notes.push(`${RUN_FILES.evaluation}: '${phase}' has no success_rate; it is ignored.`);
  }
  return evaluation.before || evaluation.after ? evaluation : undefined;
}

function readJson(path: string, notes: string[]): unknown {
  const name = basename(path);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    notes.push(`${name} could not be read (${(error as Error).message}); it is ignored. A run that crashed while writing it leaves it cut short.`);
    return undefined;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
