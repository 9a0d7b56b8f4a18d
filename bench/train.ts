/**
 * `turngym bench train`: the time of an RL training step as RL runs it, split into its parts, for two
 * configurations:
 *
 * - `guess-number`: the `guess-number` preset (src/rl/presets.ts): its model, 32 tasks x 8 plays a step, GRPO,
 *   its horizon of 5 turns;
 * - `search`: the `quickstart` preset: search/multihop-v0, a world of 40 articles generated for each
 *   episode, its copy-head model and context of 512 tokens, 32 tasks x 8 plays with GRPO and a KL term to
 *   the warm start (the reference policy's pass), 4 turns.
 *
 * Each starts from a warm start the benchmark makes (behaviour cloning with the preset's warm-start episodes
 * and steps), so that groups differ in outcome and the update does real work; it is made once per source
 * tree in a temporary folder (each tree's own, for its time). Every round starts from one of them: with a
 * baseline, the baseline's for both trees (checkpoints of older commits load in newer ones), so that the two
 * play the same policy and their batches differ only where a kernel's last bits turn a draw; without one,
 * this tree's. A round then runs `steps + 1` RL steps with the preset's
 * settings (the first is left out: it compiles kernels and grows the heap) and times sampling at several
 * row counts with the warm policy (the context and action length of the preset), as a fraction of the
 * matrix-product ceiling measured in the same round (matmul.ts, as `bench policy`). Figures are medians over
 * the measured steps of every round, from the run's metrics (`perf/time_*_s`); cores used is the process's
 * CPU time (every thread) over the wall time of the measured steps.
 *
 * With `baselineDir` (`--baseline-dir DIR`: a git worktree of another commit, with its node_modules or a
 * link to these), each round runs once on DIR's source and once on this tree's, each in a child process,
 * alternating which goes first, and `speedup` holds the ratios of medians: baseline / this for times, this /
 * baseline for sampling rates (above 1: this tree is faster). The measuring code is this tree's on both sides
 * (train-side.ts imports the measured tree's modules), so any commit whose trainer takes `init` can be the
 * baseline, older ones than this benchmark included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { modelShapeSchema } from '../src/agent/policy/model.js';
import { UsageError } from '../src/core/errors.js';
import { parseTrainConfig } from '../src/rl/config.js';
import { horizonAt } from '../src/rl/curriculum.js';
import { PRESETS } from '../src/rl/presets.js';
import { baselineSource, commitOf, ROOT, runInChild } from './baseline.js';
import { median, round } from './stats.js';
import {
  buildWarmStart,
  measureRound,
  SIDE_ENTRY,
  type SideConfig,
  type SideJob,
  type SideRound,
  type SideWarmStart,
} from './train-side.js';

export const TRAIN_BENCH_CONFIGS = ['guess-number', 'search'] as const;
export type TrainBenchConfig = (typeof TRAIN_BENCH_CONFIGS)[number];

export interface TrainBenchOptions {
  /** A short run for smoke tests: tiny batches and warm starts, one measured step, one round. */
  quick?: boolean;
  /** One configuration (default: both). */
  config?: string;
  /** A turngym source tree (a git worktree of another commit) to compare with. */
  baselineDir?: string;
  /** Rounds per side (default 2; 1 with `quick`). */
  rounds?: number;
  /** Measured RL steps a round (default 3; 1 with `quick`). */
  steps?: number;
  /** Progress lines (default: standard error). */
  log?: (line: string) => void;
}

/** The preset each configuration is taken from. */
const PRESET_OF: Record<TrainBenchConfig, string> = { 'guess-number': 'guess-number', search: 'quickstart' };

/** The parts of a step, from the run's metrics (medians over measured steps). */
const PARTS = {
  env_s: 'perf/time_env_s',
  sample_s: 'perf/time_sample_s',
  score_s: 'perf/time_score_s',
  update_s: 'perf/time_update_s',
  step_s: 'perf/time_step_s',
} as const;
/** Other figures of a step, to read the times by: rates, and how much of the batch carries a gradient. */
const FIGURES = {
  env_steps_per_s: 'perf/env_steps_per_s',
  tokens_per_s: 'perf/tokens_per_s',
  success_rate: 'charts/success_rate',
  zero_advantage_groups: 'rollout/zero_advantage_groups',
  turns_mean: 'rollout/turns_mean',
} as const;

/** A configuration's settings, from its preset; `quick` shrinks the batch, the warm start and sampling. */
function configuration(name: TrainBenchConfig, options: { quick: boolean; steps: number }) {
  const preset = PRESETS[PRESET_OF[name]]!.options;
  const {
    out: _out,
    steps: _steps,
    init: _init,
    warmStartSteps: _warmStartSteps,
    warmStartEpisodes: _warmStartEpisodes,
    evalEpisodes: _evalEpisodes,
    checkpointEvery: _checkpointEvery,
    ...rl
  } = preset;
  const resolved = parseTrainConfig({ ...preset, out: join(tmpdir(), 'unused') });
  const model = modelShapeSchema.parse(resolved.model);
  const curriculum = resolved.curriculum && { kind: 'fixed' as const, maxTurns: horizonAt(resolved.curriculum, 1e9) };
  const batch = options.quick
    ? { tasksPerStep: 2, groupSize: 2 }
    : { tasksPerStep: resolved.tasksPerStep, groupSize: resolved.groupSize };
  const side: SideConfig = {
    options: {
      ...rl,
      ...(curriculum ? { curriculum } : {}),
      ...batch,
    },
    // The trainer's own warm start (trainer.ts, startRun) with the preset's settings, without its evaluation.
    warmStart: {
      env: resolved.env,
      kwargs: { ...resolved.kwargs, ...(resolved.difficulty !== undefined ? { difficulty: resolved.difficulty } : {}) },
      model,
      episodes: options.quick ? 8 : resolved.warmStartEpisodes,
      steps: options.quick ? 4 : resolved.warmStartSteps,
      batchTokens: resolved.warmStartBatchTokens,
      learningRate: resolved.warmStartLearningRate,
      numbers: resolved.numbers,
      subwords: resolved.subwords,
      maxActionTokens: Math.max(48, resolved.maxActionTokens),
      seed: resolved.seed,
      evalEpisodes: 0,
    },
    steps: options.steps,
    sampling: {
      rows: options.quick ? [2, 4] : [16, 64, 256],
      contextTokens: model.contextLength - resolved.maxActionTokens,
      newTokens: resolved.maxActionTokens,
    },
  };
  // What the output says of the configuration.
  const about = {
    preset: PRESET_OF[name],
    env: side.warmStart.env,
    kwargs: side.warmStart.kwargs,
    model,
    tasks_per_step: batch.tasksPerStep,
    group_size: batch.groupSize,
    advantage: resolved.advantage,
    horizon: curriculum?.maxTurns ?? null,
    warm_start: { episodes: side.warmStart.episodes, steps: side.warmStart.steps },
    sampling_context_tokens: side.sampling.contextTokens,
    sampling_new_tokens: side.sampling.newTokens,
  };
  return { side, about };
}

/** A side's figures over its rounds. */
function summarize(warmStart: SideWarmStart, rounds: SideRound[]) {
  const records = rounds.flatMap((r) => r.records);
  const medianOf = (name: string) => round(median(records.map((record) => record[name] ?? Number.NaN)));
  const figures: Record<string, number> = {};
  for (const [key, name] of Object.entries(PARTS)) figures[key] = medianOf(name);
  // Shares of the summed step time, so that they add up (medians of the parts need not).
  const total = (name: string) => records.reduce((sum, record) => sum + (record[name] ?? 0), 0);
  for (const part of ['env', 'sample', 'score', 'update'] as const)
    figures[`share_${part}`] = round(total(PARTS[`${part}_s`]) / total(PARTS.step_s), 3);
  for (const [key, name] of Object.entries(FIGURES)) figures[key] = medianOf(name);
  const ceiling = median(rounds.flatMap((r) => r.ceiling_gflops_per_s));
  const sampling = rounds[0]!.sampling.map(({ rows }) => {
    const timings = rounds.map((r) => r.sampling.find((s) => s.rows === rows)!);
    const gflops = median(timings.map((s) => s.flops / s.seconds / 1e9));
    return {
      rows,
      tokens_per_s: round(median(timings.map((s) => s.new_tokens / s.seconds))),
      gflops_per_s: round(gflops),
      ratio_to_matmul: round(gflops / ceiling, 3),
    };
  });
  return {
    measured_steps: records.length,
    ...figures,
    cores_used: round(rounds.reduce((sum, r) => sum + r.cpu_s, 0) / rounds.reduce((sum, r) => sum + r.wall_s, 0), 3),
    warm_start_s: round(warmStart.seconds),
    matmul_ceiling_gflops_per_s: round(ceiling),
    sampling,
  };
}
type SideSummary = ReturnType<typeof summarize> & Record<keyof typeof PARTS, number>;

/** Ratios of medians, above 1 where this tree is faster: baseline / this for times, this / baseline for rates. */
function speedup(baseline: SideSummary, current: SideSummary) {
  const ratio = (a: number, b: number) => (a > 0 && b > 0 ? round(a / b, 3) : null);
  const parts: Record<string, number | null> = {};
  for (const key of Object.keys(PARTS) as (keyof typeof PARTS)[]) parts[key] = ratio(baseline[key], current[key]);
  return {
    ...parts,
    sampling: current.sampling.map(({ rows, tokens_per_s }) => ({
      rows,
      tokens_per_s: ratio(tokens_per_s, baseline.sampling.find((s) => s.rows === rows)!.tokens_per_s),
    })),
  };
}

export async function runTrainBench(options: TrainBenchOptions = {}) {
  const quick = options.quick ?? false;
  if (options.config !== undefined && !(TRAIN_BENCH_CONFIGS as readonly string[]).includes(options.config))
    throw new UsageError(`--config must be one of ${TRAIN_BENCH_CONFIGS.join(', ')}; got '${options.config}'.`);
  const names = options.config ? [options.config as TrainBenchConfig] : [...TRAIN_BENCH_CONFIGS];
  const baselineSrc =
    options.baselineDir === undefined
      ? undefined
      : baselineSource(options.baselineDir, 'rl/trainer.ts', ['@tensorflow/tfjs']);
  const rounds = options.rounds ?? (quick ? 1 : 2);
  const steps = options.steps ?? (quick ? 1 : 3);
  const log = options.log ?? ((line: string) => console.error(line));
  const sides = [
    ...(baselineSrc ? [{ name: 'baseline' as const, src: baselineSrc }] : []),
    { name: 'this' as const, src: join(ROOT, 'src') },
  ];
  // Without a baseline, this tree is measured in this process; with one, every job runs in a child of its own.
  const run = <T>(job: SideJob, label: string): Promise<T> =>
    baselineSrc
      ? runInChild<T>(SIDE_ENTRY, job, `bench train: ${label}`)
      : ((job.kind === 'warm-start' ? buildWarmStart(job) : measureRound(job)) as Promise<T>);
  const temp = await mkdtemp(join(tmpdir(), 'turngym-bench-warm-'));
  const configs: Record<string, unknown> = {};
  let backend = 'unknown';
  try {
    for (const name of names) {
      const { side: config, about } = configuration(name, { quick, steps });
      const jobs = Object.fromEntries(
        sides.map((side) => [side.name, { src: side.src, warmStart: join(temp, side.name, name), config }]),
      );
      const warm: Record<string, SideWarmStart> = {};
      for (const side of sides) {
        log(`[bench train] ${name}: warm start (${side.name})`);
        warm[side.name] = await run<SideWarmStart>(
          { kind: 'warm-start', ...jobs[side.name]! },
          `${side.name} warm start`,
        );
      }
      // One policy for every round: the baseline's warm start where there is one (see the module's doc).
      const shared = jobs[sides[0]!.name]!.warmStart;
      const measured: Record<string, SideRound[]> = Object.fromEntries(sides.map((side) => [side.name, []]));
      for (let r = 0; r < rounds; r++) {
        // Alternate which side goes first, so that a machine that slows down or speeds up favours neither.
        for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
          log(`[bench train] ${name}: round ${r + 1}/${rounds} (${side.name})`);
          const result = await run<SideRound>(
            { kind: 'round', ...jobs[side.name]!, warmStart: shared },
            `${side.name} round ${r + 1}`,
          );
          measured[side.name]!.push(result);
          backend = result.backend;
        }
      }
      const current = summarize(warm.this!, measured.this!) as SideSummary;
      const baseline = baselineSrc ? (summarize(warm.baseline!, measured.baseline!) as SideSummary) : undefined;
      configs[name] = {
        ...about,
        parameters: warm.this!.parameters,
        this: current,
        ...(baseline ? { baseline, speedup: speedup(baseline, current) } : {}),
      };
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return {
    benchmark: 'train',
    backend,
    quick,
    rounds,
    steps_per_round: steps,
    load_average_1m: round(loadavg()[0]!, 3),
    this_commit: commitOf(ROOT) ?? null,
    ...(options.baselineDir !== undefined
      ? {
          baseline_dir: resolve(options.baselineDir),
          baseline_commit: commitOf(options.baselineDir) ?? null,
          rounds_start_from: 'the baseline warm start',
        }
      : { rounds_start_from: 'this tree warm start' }),
    configs,
  };
}
