/**
 * `turngym bench report`: what the run-directory writers and the report cost.
 *
 * - Per training step: `TensorBoardWriter.scalars` against `MetricsWriter.write` (the JSONL line every run
 *   writes anyway) on the same records, alternating in rounds; medians of µs per record and their ratio.
 * - Per report: `writeReport` of a run with `steps` steps (and of it compared with two more runs) against
 *   `readRun` of the same directory (reading and parsing, the floor any report pays); medians over rounds
 *   after a first, cold call (which also loads vega and vega-lite) that is reported on its own.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng.js';
import { METRICS, type MetricsRecord, MetricsWriter } from '../src/rl/metrics.js';
import { writeReport } from '../src/rl/report.js';
import { readRun, RUN_FILES } from '../src/rl/run-directory.js';
import { TensorBoardWriter } from '../src/rl/tensorboard.js';
import type { TrajectoryRecord } from '../src/rl/trajectories.js';
import { median, now, round } from './stats.js';

export interface ReportBenchOptions {
  /** Training steps in each benchmark run. */
  steps?: number;
  rounds?: number;
  /** Records written per round by each metrics writer. */
  records?: number;
}

function record(rng: Rng, step: number): MetricsRecord {
  const values: MetricsRecord = { step, time: step * 4.2 };
  for (const name of Object.values(METRICS)) values[name] = rng.float();
  return values;
}

function writeRun(root: string, name: string, steps: number, seed: number): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const rng = Rng.fromSeed(seed);
  const writer = new MetricsWriter(join(dir, RUN_FILES.metrics));
  for (let step = 0; step < steps; step++) writer.write(record(rng, step));
  writeFileSync(join(dir, RUN_FILES.config), JSON.stringify({ env: 'search/multihop-v0', steps, seed }));
  const trajectories: TrajectoryRecord[] = [];
  for (let index = 0; index < 64; index++) {
    trajectories.push({
      step: Math.floor((index * steps) / 64),
      env: 'search/multihop-v0',
      seed: index,
      group: index % 4,
      prompt: 'Which city was the founder of Northwind Optics born in?',
      tools: [{ name: 'search', description: 'search(query: string): passages.' }],
      turns: Array.from({ length: 4 }, (_, turn) => ({
        action: `search("q${turn}")`,
        observation: 'passage text '.repeat(40),
        reward: 0,
        format: 0,
        information_gain: rng.float() - 0.5,
      })),
      outcome: index % 2,
      success: index % 2 === 1,
      return: index % 2,
      truncated: false,
      max_turns: 5,
    });
  }
  writeFileSync(
    join(dir, RUN_FILES.trajectories),
    `${trajectories.map((trajectory) => JSON.stringify(trajectory)).join('\n')}\n`,
  );
  return dir;
}

export async function runReportBench(options: ReportBenchOptions = {}) {
  const steps = options.steps ?? 2000;
  const rounds = options.rounds ?? 5;
  const recordCount = options.records ?? 2000;
  const root = mkdtempSync(join(tmpdir(), 'turngym-bench-report-'));
  try {
    // Metrics writers, alternating per round.
    const rng = Rng.fromSeed(1);
    const records = Array.from({ length: recordCount }, (_, step) => record(rng, step));
    const jsonl: number[] = [];
    const tensorboard: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const metricsWriter = new MetricsWriter(join(root, `metrics-${round}.jsonl`));
      let start = now();
      for (const entry of records) metricsWriter.write(entry);
      jsonl.push(((now() - start) * 1000) / recordCount);
      const eventWriter = new TensorBoardWriter(join(root, `tensorboard-${round}`));
      start = now();
      for (const entry of records) eventWriter.scalars(entry.step, entry);
      tensorboard.push(((now() - start) * 1000) / recordCount);
      eventWriter.close();
    }

    // Reports.
    const run = writeRun(root, 'run', steps, 1);
    const others = [writeRun(root, 'other-a', steps, 2), writeRun(root, 'other-b', steps, 3)];
    let start = now();
    await writeReport(run);
    const coldMs = now() - start;
    const read: number[] = [];
    const single: number[] = [];
    const compared: number[] = [];
    for (let round = 0; round < rounds; round++) {
      start = now();
      readRun(run);
      read.push(now() - start);
      start = now();
      await writeReport(run);
      single.push(now() - start);
      start = now();
      await writeReport(run, { compare: others });
      compared.push(now() - start);
    }
    const jsonlUs = median(jsonl);
    const tensorboardUs = median(tensorboard);
    return {
      benchmark: 'report',
      metrics_per_record: Object.keys(METRICS).length,
      rounds,
      jsonl_write_us_per_step: round(jsonlUs),
      tensorboard_write_us_per_step: round(tensorboardUs),
      tensorboard_vs_jsonl_ratio: round(tensorboardUs / jsonlUs, 3),
      steps,
      read_run_ms: round(median(read)),
      report_cold_ms: round(coldMs),
      report_ms: round(median(single)),
      report_vs_read_ratio: round(median(single) / median(read), 3),
      report_3_runs_ms: round(median(compared)),
      report_3_runs_vs_1_ratio: round(median(compared) / median(single), 3),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
