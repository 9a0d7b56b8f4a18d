/**
 * `turngym bench train`: where the time of a training step goes — env steps, sampling, information-gain
 * scoring, and the update — with env steps/s and tokens/s, for GRPO and for IGPO (which adds scoring) on
 * puzzle/guess-number-v0 with a fresh default-size policy. Figures are medians over the measured steps
 * (the first step, which compiles kernels, is left out).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../src/envs/builtin.js';
import { RunDirectory } from '../src/rl/run-directory.js';
import { train } from '../src/rl/trainer.js';
import { median, round } from './stats.js';

export interface TrainBenchOptions {
  steps?: number;
  groupSize?: number;
  tasksPerStep?: number;
}

const PARTS = {
  env_s: 'perf/time_env_s',
  sample_s: 'perf/time_sample_s',
  score_s: 'perf/time_score_s',
  update_s: 'perf/time_update_s',
  step_s: 'perf/time_step_s',
  env_steps_per_s: 'perf/env_steps_per_s',
  tokens_per_s: 'perf/tokens_per_s',
} as const;

async function measure(advantage: 'grpo' | 'igpo', options: Required<TrainBenchOptions>) {
  const out = await mkdtemp(join(tmpdir(), 'turngym-bench-train-'));
  try {
    await train(
      {
        env: 'puzzle/guess-number-v0',
        difficulty: 3,
        steps: options.steps + 1,
        tasksPerStep: options.tasksPerStep,
        groupSize: options.groupSize,
        curriculum: { kind: 'fixed', maxTurns: 6 },
        advantage,
        evalEpisodes: 0,
        checkpointEvery: 0,
        trajectoriesPerStep: 0,
        out,
      },
      { log: () => {} },
    );
    const records = new RunDirectory(out).metrics().slice(1);
    const figures: Record<string, number> = {};
    for (const [key, name] of Object.entries(PARTS))
      figures[key] = round(median(records.map((record) => record[name] ?? Number.NaN)));
    const step = figures.step_s!;
    figures.share_env = round(figures.env_s! / step, 3);
    figures.share_sample = round(figures.sample_s! / step, 3);
    figures.share_score = round(figures.score_s! / step, 3);
    figures.share_update = round(figures.update_s! / step, 3);
    return figures;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export async function runTrainBench(options: TrainBenchOptions = {}) {
  const resolved = {
    steps: options.steps ?? 4,
    groupSize: options.groupSize ?? 8,
    tasksPerStep: options.tasksPerStep ?? 4,
  };
  const grpo = await measure('grpo', resolved);
  const igpo = await measure('igpo', resolved);
  return {
    benchmark: 'train',
    env: 'puzzle/guess-number-v0',
    trajectories_per_step: resolved.groupSize * resolved.tasksPerStep,
    measured_steps: resolved.steps,
    grpo,
    igpo,
    igpo_over_grpo_step_time: round(igpo.step_s! / grpo.step_s!, 3),
  };
}
