/**
 * The run directory (`runs/<name>/`): `config.json`, `metrics.jsonl`, `trajectories.jsonl`, `eval.json`,
 * `checkpoints/` (step checkpoints with the trainer's state, `latest.json`, the warm start and the KL
 * reference), TensorBoard event files. This module owns their names, and reads and writes every one of them.
 *
 * Writing (the trainer): {@link RunDirectory}, which also puts a run back to its latest checkpoint before
 * `--resume` continues it. Reading (reports, exports): {@link readRun}. A run may have crashed or still be
 * running, so every file is optional and a line cut short is skipped; what is missing or broken is
 * described in `notes` (shown at the top of the report) instead of failing. Only a path that is not a run
 * directory at all is an error.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { describeError, TurngymError } from '../core/errors.js';
import { CheckpointError, loadCheckpoint, readCheckpointConfig, saveCheckpoint } from '../agent/policy/checkpoint.js';
import type { EpisodeOutcome, PairedComparison } from '../agent/policy/paired.js';
import type { Policy } from '../agent/policy/policy.js';
import type { TrainConfig } from './config.js';
import { type MetricsRecord, MetricsWriter, readMetrics } from './metrics.js';
import { EVENT_FILE_PREFIX, eventsUpTo, TensorBoardWriter } from './tensorboard.js';
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

/** Names in `checkpoints/`: the pointer `--resume` follows, and the checkpoints that belong to no step. */
export const CHECKPOINT_NAMES = {
  latest: 'latest.json',
  warmStart: 'warm-start',
  reference: 'reference',
} as const;

/** The folder, in `checkpoints/`, of the checkpoint saved after `step` (`step-000012`). */
export function stepCheckpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/**
 * What a step checkpoint holds beside the policy (its `trainer` metadata): everything that decides what
 * happens next, so `--resume` continues a run exactly.
 */
export interface TrainerState {
  step: number;
  /** The states of the three random streams: tasks, sampling, the loss's (mini-batch shuffles, Clip-Cov). */
  taskRng: number[];
  sampleRng: number[];
  lossRng: number[];
  /** Consecutive steps whose loss was not finite. */
  nanStreak: number;
  /** Seconds of training so far (the `time` of metrics.jsonl), so a resumed run's clock goes on from there. */
  seconds: number;
}

/** The checkpoint `--resume` continues from: what `checkpoints/latest.json` names. */
export interface ResumePoint {
  /** Its folder's name in `checkpoints/` (e.g. `step-000012`). */
  name: string;
  /** Its path. */
  directory: string;
}

/**
 * A run directory as the trainer writes it. Whole files (config.json, eval.json, latest.json) are written
 * through a temporary file and a rename, so a run killed while writing one leaves the old one or the new
 * one, never half of it.
 */
export class RunDirectory {
  private tensorboard: TensorBoardWriter | undefined;

  constructor(readonly dir: string) {}

  /** The path of one of the run's files. */
  path(file: keyof typeof RUN_FILES): string {
    return join(this.dir, RUN_FILES[file]);
  }

  /** The path of a checkpoint in `checkpoints/` (a {@link stepCheckpointName} or a {@link CHECKPOINT_NAMES} entry). */
  checkpoint(name: string): string {
    return join(this.path('checkpoints'), name);
  }

  /**
   * Makes the directory ready for a new run (creating it and `checkpoints/`). A directory that already holds
   * a run is refused with a one-line message, since a second run there would mix its records with the first
   * one's (metrics steps 1, 1, 2; the old run's checkpoints kept); with `overwrite`, the old run's files
   * ({@link runFiles}) are deleted first, and nothing else in the directory is touched.
   */
  async startNew({ overwrite = false }: { overwrite?: boolean } = {}): Promise<void> {
    if (existsSync(this.dir) && !statSync(this.dir).isDirectory()) {
      throw new TurngymError('INVALID_OPTIONS', `--out ${this.dir} is a file, not a directory: choose another --out.`);
    }
    const old = this.runFiles();
    if (old.length > 0 && !overwrite) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `${this.dir} already holds a run (${old.join(', ')}): continue it with --resume ${this.dir}, start over with --overwrite (deletes that run's files), or choose another --out.`,
      );
    }
    await Promise.all(old.map((name) => rm(join(this.dir, name), { recursive: true, force: true })));
    await mkdir(this.path('checkpoints'), { recursive: true });
  }

  /**
   * The names of the run files in the directory: those of {@link RUN_FILES} (checkpoints/ shown with a
   * slash, and only when it holds something: a run that failed before its first checkpoint leaves it
   * empty), TensorBoard event files, and temporary files a killed run left.
   */
  runFiles(): string[] {
    if (!existsSync(this.dir) || !statSync(this.dir).isDirectory()) return [];
    const names = new Set<string>(Object.values(RUN_FILES));
    const emptyCheckpoints =
      existsSync(this.path('checkpoints')) &&
      statSync(this.path('checkpoints')).isDirectory() &&
      readdirSync(this.path('checkpoints')).length === 0;
    return readdirSync(this.dir)
      .filter(
        (name) =>
          (names.has(name) && !(name === RUN_FILES.checkpoints && emptyCheckpoints)) ||
          name.startsWith(EVENT_FILE_PREFIX) ||
          name.endsWith('.partial'),
      )
      .sort()
      .map((name) => (name === RUN_FILES.checkpoints ? `${name}/` : name));
  }

  /** Writes `config.json`: the options the run goes on with. */
  async writeConfig(config: TrainConfig): Promise<void> {
    await writeAtomic(this.path('config'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /**
   * Records held-out evaluations in `eval.json`: the phases given replace those in the file, the others are
   * kept (as the report's reader reads them).
   */
  async writeEvaluation(phases: EvaluationFile): Promise<void> {
    await writeAtomic(this.path('evaluation'), `${JSON.stringify({ ...this.evaluation(), ...phases }, null, 2)}\n`);
  }

  /** What `eval.json` holds so far (undefined when it is missing or holds nothing readable). */
  evaluation(): EvaluationFile | undefined {
    return readEvaluation(this.path('evaluation'), []);
  }

  /** Writes TensorBoard scalars beside metrics.jsonl from now on, into a new event file. */
  useTensorBoard(): void {
    this.tensorboard ??= new TensorBoardWriter(this.dir);
  }

  /**
   * Appends one training step's records: its metrics line (and TensorBoard scalars, after
   * {@link useTensorBoard}), then its sampled trajectories.
   */
  async appendStep(record: MetricsRecord, trajectories: readonly TrajectoryRecord[]): Promise<void> {
    new MetricsWriter(this.path('metrics')).write(record);
    this.tensorboard?.scalars(record.step, record);
    if (trajectories.length > 0)
      await appendFile(
        this.path('trajectories'),
        `${trajectories.map((trajectory) => JSON.stringify(trajectory)).join('\n')}\n`,
      );
  }

  /** The records of metrics.jsonl (lines cut short skipped). */
  metrics(): MetricsRecord[] {
    return readMetrics(this.path('metrics')).records;
  }

  /** Closes the TensorBoard event file, if one is open. */
  close(): void {
    this.tensorboard?.close();
  }

  /** Saves `policy` as the checkpoint `name` in `checkpoints/` (a {@link CHECKPOINT_NAMES} entry) and returns its path. */
  async saveCheckpoint(name: string, policy: Policy, metadata: Record<string, unknown>): Promise<string> {
    const directory = this.checkpoint(name);
    await saveCheckpoint(policy, directory, metadata);
    return directory;
  }

  /** Saves the checkpoint of `state.step`, with the trainer's state, and points `checkpoints/latest.json` at it. */
  async saveStep(policy: Policy, state: TrainerState, metadata: Record<string, unknown>): Promise<void> {
    await this.saveCheckpoint(stepCheckpointName(state.step), policy, { trainer: state, ...metadata });
    await writeAtomic(
      this.checkpoint(CHECKPOINT_NAMES.latest),
      `${JSON.stringify({ step: state.step, directory: stepCheckpointName(state.step) })}\n`,
    );
  }

  /**
   * The policy and trainer state `--resume` continues from: the checkpoint `checkpoints/latest.json` names.
   * Anything wrong with it (the pointer, a checkpoint file, the trainer state) is one line saying what and
   * what to do. The run's per-step files are then put back to that checkpoint's step ({@link truncateAfter}),
   * so a run killed between writing a step's records and saving its checkpoint does not list that step twice.
   */
  async resume(log: (line: string) => void): Promise<{ policy: Policy; state: TrainerState }> {
    const latest = await this.latest();
    const cannot = async (problem: string, cause?: unknown) =>
      new TurngymError(
        'BAD_CHECKPOINT',
        `Cannot resume ${this.dir} from ${latest.directory}: ${problem} ${await this.resumeAdvice(latest.name)}`,
        { cause },
      );
    let state: TrainerState;
    let policy: Policy;
    try {
      const { metadata } = await readCheckpointConfig(latest.directory);
      const problem = trainerStateProblem(metadata.trainer);
      if (problem)
        throw await cannot(`its trainer state (the step and random streams, in config.json) is invalid: ${problem}.`);
      const saved = metadata.trainer as Omit<TrainerState, 'nanStreak' | 'seconds'> & {
        nanStreak?: number;
        seconds?: number;
      };
      // Checkpoints saved before the clock was kept in them: the time metrics.jsonl gives their step.
      const seconds = saved.seconds ?? this.metrics().findLast((record) => record.step === saved.step)?.time ?? 0;
      state = { ...saved, nanStreak: saved.nanStreak ?? 0, seconds };
      policy = await loadCheckpoint(latest.directory);
    } catch (error) {
      if (error instanceof CheckpointError) throw await cannot(error.problem, error);
      throw error;
    }
    log(`[train] resuming ${this.dir} at step ${state.step} from ${latest.directory}`);
    const dropped = await this.truncateAfter(state.step);
    if (dropped.length > 0)
      log(
        `[train] dropped ${dropped.join(', ')}: records of steps after ${latest.name} (the run stopped before saving a later checkpoint), or cut short`,
      );
    return { policy, state };
  }

  /**
   * The checkpoint `checkpoints/latest.json` names. Throws a `TurngymError` whose one-line message says what
   * is wrong and what to do when the pointer is missing, cut short, or names a folder that is not there.
   */
  async latest(): Promise<ResumePoint> {
    const pointer = this.checkpoint(CHECKPOINT_NAMES.latest);
    let text: string;
    try {
      text = await readFile(pointer, 'utf8');
    } catch (error) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `Cannot resume ${this.dir}: no ${pointer} (${describeError(error)}). Was it written by \`turngym train\`? ${await this.resumeAdvice()}`,
      );
    }
    let name: unknown;
    try {
      name = (JSON.parse(text) as { directory?: unknown } | null)?.directory;
    } catch (error) {
      throw new TurngymError(
        'BAD_CHECKPOINT',
        `Cannot resume ${this.dir}: ${pointer} is truncated or not JSON (${describeError(error)}). ${await this.resumeAdvice()}`,
      );
    }
    if (typeof name !== 'string' || name === '' || basename(name) !== name) {
      throw new TurngymError(
        'BAD_CHECKPOINT',
        `Cannot resume ${this.dir}: ${pointer} names no checkpoint folder (its "directory" is ${JSON.stringify(name)}). ${await this.resumeAdvice()}`,
      );
    }
    const directory = this.checkpoint(name);
    if (!existsSync(directory)) {
      throw new TurngymError(
        'BAD_CHECKPOINT',
        `Cannot resume ${this.dir}: ${pointer} names ${name}, which is not in ${this.path('checkpoints')}. ${await this.resumeAdvice(name)}`,
      );
    }
    return { name, directory };
  }

  /**
   * What to do when the checkpoint `--resume` would continue from cannot be used (`broken`, its name when
   * it is one): point latest.json at an earlier step checkpoint (the newest one, when latest.json itself is
   * unusable), or start a new run.
   */
  async resumeAdvice(broken?: string): Promise<string> {
    const names = existsSync(this.path('checkpoints')) ? await readdir(this.path('checkpoints')) : [];
    const earlier = names
      .filter((name) => /^step-\d+$/.test(name) && (broken === undefined || name < broken))
      .sort()
      .pop();
    const remove =
      broken !== undefined && existsSync(this.checkpoint(broken)) ? `delete ${this.checkpoint(broken)} and ` : '';
    if (!earlier) return 'Start a new run (another --out): this one has no earlier checkpoint to resume from.';
    const step = Number(earlier.slice('step-'.length));
    return `To resume from step ${step}, ${remove}write ${JSON.stringify({ step, directory: earlier })} into ${this.checkpoint(CHECKPOINT_NAMES.latest)}; or start a new run (another --out).`;
  }

  /**
   * Puts the run's per-step files back to the checkpoint of `step`, before `--resume` continues from it: the
   * records of later steps in metrics.jsonl and trajectories.jsonl, and the events of later steps in the
   * TensorBoard event files, are dropped (a run killed after writing a step's records but before saving its
   * checkpoint has them; the resumed run writes them again), and so is a last line or record cut short by
   * a kill. Each file is rewritten through a temporary file and a rename, so a kill meanwhile loses nothing.
   * Returns what was dropped, in words (e.g. "1 line of metrics.jsonl"); nothing when nothing was.
   */
  async truncateAfter(step: number): Promise<string[]> {
    const dropped: string[] = [];
    const truncate = async (
      file: string,
      unit: string,
      keep: (bytes: Buffer) => { kept: Buffer | string; dropped: number },
      temporary?: string,
    ) => {
      const path = join(this.dir, file);
      if (!existsSync(path)) return;
      const bytes = await readFile(path);
      const result = keep(bytes);
      if (result.dropped === 0 && Buffer.from(result.kept).equals(bytes)) return;
      await writeAtomic(path, result.kept, temporary);
      if (result.dropped > 0) dropped.push(`${plural(result.dropped, unit)} of ${file}`);
    };
    for (const file of [RUN_FILES.metrics, RUN_FILES.trajectories])
      await truncate(file, 'line', (bytes) => linesUpTo(bytes.toString('utf8'), step));
    // TensorBoard reads every file with "tfevents" in its name, so the temporary copy is named otherwise.
    for (const file of (await readdir(this.dir)).filter((name) => name.startsWith(EVENT_FILE_PREFIX)).sort()) {
      await truncate(file, 'event', (bytes) => eventsUpTo(bytes, step), join(this.dir, 'tensorboard-events.partial'));
    }
    return dropped;
  }
}

/**
 * The lines of a JSONL file of per-step records (metrics.jsonl, trajectories.jsonl) up to `lastStep`: a
 * line of a later step, one cut short or not JSON, or one without a step is dropped and counted.
 */
function linesUpTo(text: string, lastStep: number): { kept: string; dropped: number } {
  const kept: string[] = [];
  let dropped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let step: unknown;
    try {
      step = (JSON.parse(line) as { step?: unknown }).step;
    } catch {
      // a line cut short by a kill
    }
    if (typeof step === 'number' && step <= lastStep) kept.push(line);
    else dropped++;
  }
  return { kept: kept.map((line) => `${line}\n`).join(''), dropped };
}

/** What is wrong with a checkpoint's trainer state, or undefined when it is one. */
function trainerStateProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'there is none';
  const state = value as Record<string, unknown>;
  const isCount = (field: unknown) => typeof field === 'number' && Number.isSafeInteger(field) && field >= 0;
  if (!isCount(state.step)) return `step is ${JSON.stringify(state.step)}, not an integer >= 0`;
  if (state.nanStreak !== undefined && !isCount(state.nanStreak))
    return `nanStreak is ${JSON.stringify(state.nanStreak)}, not an integer >= 0`;
  if (
    state.seconds !== undefined &&
    !(typeof state.seconds === 'number' && Number.isFinite(state.seconds) && state.seconds >= 0)
  )
    return `seconds is ${JSON.stringify(state.seconds)}, not a number >= 0`;
  for (const stream of ['taskRng', 'sampleRng', 'lossRng']) {
    const words = state[stream];
    if (
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((word) => Number.isInteger(word) && word >= -(2 ** 31) && word < 2 ** 32)
    ) {
      return `${stream} is not the state of a random stream (4 32-bit integers)`;
    }
  }
  return undefined;
}

/** Writes through a temporary file and a rename, so a crash never leaves a half-written file. */
async function writeAtomic(path: string, data: string | Buffer, temporary = `${path}.partial`): Promise<void> {
  await writeFile(temporary, data);
  await rename(temporary, path);
}

/**
 * The checkpoint a path names: a checkpoint folder as it is, or a run directory's latest checkpoint (what
 * `checkpoints/latest.json` names), so `eval --checkpoint runs/rl` and `train --init runs/rl` take a run.
 * Anything else is returned as it is, for the checkpoint loader to say what is wrong with it.
 */
export async function checkpointOf(path: string): Promise<string> {
  // A checkpoint holds its tokenizer; a run directory holds checkpoints/ (and a config.json of its own).
  if (existsSync(join(path, 'tokenizer.json')) || !existsSync(join(path, RUN_FILES.checkpoints))) return path;
  const run = new RunDirectory(path);
  if (!existsSync(run.checkpoint(CHECKPOINT_NAMES.latest))) {
    const names = readdirSync(run.path('checkpoints')).filter((name) => name !== CHECKPOINT_NAMES.latest);
    throw new TurngymError(
      'BAD_CHECKPOINT',
      `${path} is a run directory with no step checkpoint yet (no ${run.checkpoint(CHECKPOINT_NAMES.latest)}): name a checkpoint folder${names.length > 0 ? `, e.g. ${run.checkpoint(names.sort()[0]!)}` : ''}.`,
    );
  }
  return (await run.latest()).directory;
}

/** Held-out evaluation summary, as in `eval.json`. */
export interface EvaluationSummary {
  /** Null when unknown: an episode ended without the env setting `info.success`. */
  success_rate: number | null;
  mean_return: number;
  mean_turns: number;
  episodes: number;
}

/**
 * `eval.json`: held-out evaluation before and after training (either may be missing in a crashed run), the
 * episodes of the one before (kept for the comparison at the end, which a resumed run makes too), and the paired
 * comparison of after against before on the same tasks.
 */
export interface EvaluationFile {
  before?: EvaluationSummary;
  after?: EvaluationSummary;
  before_outcomes?: EpisodeOutcome[];
  /** The env kwargs (difficulty included) the evaluation before played: the same seeds with others are other tasks. */
  before_kwargs?: Record<string, unknown>;
  paired?: PairedComparison;
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
    throw new TurngymError(
      'INVALID_OPTIONS',
      `No run directory at '${dir}' (${absolute} does not exist). Give the path of a run, e.g. runs/quickstart.`,
    );
  }
  if (!statSync(absolute).isDirectory()) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `'${dir}' is a file, not a run directory. Give the directory that holds metrics.jsonl and config.json.`,
    );
  }
  const present = Object.values(RUN_FILES).filter(
    (file) => file !== RUN_FILES.report && existsSync(resolve(absolute, file)),
  );
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
  if (!existsSync(metricsPath))
    notes.push(
      `${RUN_FILES.metrics} is missing: no training curves to plot (the run may have stopped before its first step).`,
    );
  else if (metrics.length === 0 && skippedLines === 0)
    notes.push(`${RUN_FILES.metrics} is empty: no training step was recorded yet.`);
  if (skippedLines > 0)
    notes.push(
      `${RUN_FILES.metrics}: ${plural(skippedLines, 'line')} could not be read and ${skippedLines === 1 ? 'was' : 'were'} skipped (a line cut short by a crash, or not JSON).`,
    );

  const trajectories = readTrajectories(resolve(absolute, RUN_FILES.trajectories), notes);
  const evaluation = readEvaluation(resolve(absolute, RUN_FILES.evaluation), notes);

  const checkpointDir = resolve(absolute, RUN_FILES.checkpoints);
  const checkpoints =
    existsSync(checkpointDir) && statSync(checkpointDir).isDirectory() ? readdirSync(checkpointDir).sort() : [];

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
  if (skipped > 0)
    notes.push(
      `${RUN_FILES.trajectories}: ${plural(skipped, 'line')} could not be read and ${skipped === 1 ? 'was' : 'were'} skipped (a line cut short by a crash, or not a trajectory record).`,
    );
  return records;
}

function isTrajectory(value: unknown): value is TrajectoryRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<TrajectoryRecord>;
  return (
    typeof record.step === 'number' &&
    typeof record.prompt === 'string' &&
    Array.isArray(record.turns) &&
    record.turns.every((turn) => typeof turn === 'object' && turn !== null && typeof turn.action === 'string')
  );
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
    if (
      typeof summary === 'object' &&
      summary !== null &&
      (typeof summary.success_rate === 'number' || summary.success_rate === null)
    )
      evaluation[phase] = summary;
    else notes.push(`${RUN_FILES.evaluation}: '${phase}' has no success_rate; it is ignored.`);
  }
  if (Array.isArray(value?.before_outcomes)) evaluation.before_outcomes = value.before_outcomes;
  if (typeof value?.before_kwargs === 'object' && value.before_kwargs !== null)
    evaluation.before_kwargs = value.before_kwargs;
  if (typeof value?.paired === 'object' && value.paired !== null) evaluation.paired = value.paired;
  return evaluation.before || evaluation.after ? evaluation : undefined;
}

function readJson(path: string, notes: string[]): unknown {
  const name = basename(path);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    notes.push(
      `${name} could not be read (${(error as Error).message}); it is ignored. A run that crashed while writing it leaves it cut short.`,
    );
    return undefined;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
