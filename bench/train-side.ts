/**
 * One side of `turngym bench train` (train.ts): one turngym source tree — this one, or a baseline's — and one
 * configuration, doing one job: build the warm start, or measure a round from it (RL steps, then sampling at
 * several row counts against the matrix-product ceiling).
 *
 * The trainer, behaviour cloning, checkpoints, the policy and TensorFlow.js are imported from the measured
 * tree's `src/` (its `node_modules` for TensorFlow.js), so a baseline runs its own code; the measuring code is
 * this file on both sides, so a change to the benchmark never reads as a change in speed, and a baseline
 * commit older than this benchmark is measured all the same. It needs of that tree only what it calls:
 * `train` (with `init`), `RunDirectory.metrics`, `behaviourCloning`, `saveCheckpoint`/`loadCheckpoint`,
 * `initBackend`, `forwardFlops` and `Policy.sample`.
 *
 * Run directly (`node --no-node-snapshot --import tsx bench/train-side.ts JOB`, JOB a {@link SideJob} as JSON),
 * it prints its result as one JSON line; train.ts runs it so for each round of a comparison.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SftOptions } from '../src/agent/policy/sft.js';
import type { forwardFlops as ForwardFlops, ModelConfig } from '../src/agent/policy/model.js';
import { runChildJob } from './baseline.js';
import { type MatmulTf, matmulRate } from './matmul.js';
import { now } from './stats.js';

/** What both sides of one configuration run (the same options on both). */
export interface SideConfig {
  /** `train` options of the RL steps, without `out`, `init`, `steps` and the warm start's. */
  options: Record<string, unknown>;
  /** The warm start: behaviour cloning's settings. */
  warmStart: SftOptions & { episodes: number; steps: number };
  /** Measured RL steps a round (one more runs first, and is left out: it compiles kernels and grows the heap). */
  steps: number;
  /** Sampling figures: rows at once, context tokens a row, new tokens a row. */
  sampling: { rows: number[]; contextTokens: number; newTokens: number };
}

export interface SideJob {
  kind: 'warm-start' | 'round';
  /** The measured tree's src/ folder. */
  src: string;
  /** The warm start's checkpoint folder: written by 'warm-start', read by 'round'. */
  warmStart: string;
  config: SideConfig;
}

/** What a round measured: the metrics records of its measured steps, its CPU time, and sampling. */
export interface SideRound {
  backend: string;
  records: Record<string, number>[];
  /** Process CPU seconds (every thread) and wall seconds over the measured steps. */
  cpu_s: number;
  wall_s: number;
  /** One timing per row count, and the matrix-product ceiling measured before each and after the last. */
  sampling: { rows: number; seconds: number; new_tokens: number; flops: number }[];
  ceiling_gflops_per_s: number[];
}

export interface SideWarmStart {
  seconds: number;
  parameters: number;
}

/** The measured tree's modules (typed as this tree's: the calls above are the same in every commit measured). */
async function sources(src: string) {
  const load = <T>(path: string) => import(pathToFileURL(join(src, path)).href) as Promise<T>;
  await load('envs/builtin.js');
  const tfPath = createRequire(join(src, 'index.js')).resolve('@tensorflow/tfjs');
  return {
    trainer: await load<typeof import('../src/rl/trainer.js')>('rl/trainer.js'),
    runDirectory: await load<typeof import('../src/rl/run-directory.js')>('rl/run-directory.js'),
    sft: await load<typeof import('../src/agent/policy/sft.js')>('agent/policy/sft.js'),
    checkpoint: await load<typeof import('../src/agent/policy/checkpoint.js')>('agent/policy/checkpoint.js'),
    backend: await load<typeof import('../src/agent/policy/backend.js')>('agent/policy/backend.js'),
    model: await load<typeof import('../src/agent/policy/model.js')>('agent/policy/model.js'),
    tf: (await import(pathToFileURL(tfPath).href)) as MatmulTf,
  };
}

/** Seconds of CPU time of this process so far, every thread (the wasm backend's and libuv's included). */
function cpuSeconds(): number {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
}

/** Behaviour cloning from a fresh policy of the configuration's model, saved to `job.warmStart`. */
export async function buildWarmStart(job: SideJob): Promise<SideWarmStart> {
  const src = await sources(job.src);
  await src.backend.initBackend('auto', () => {});
  const start = now();
  const { policy } = await src.sft.behaviourCloning(job.config.warmStart);
  const seconds = (now() - start) / 1000;
  await src.checkpoint.saveCheckpoint(policy, job.warmStart, { benchmark: 'train' });
  const parameters = policy.model.parameterCount;
  policy.dispose();
  return { seconds, parameters };
}

/** FLOPs of sampling `newTokens` tokens after a context of `context` tokens (one row, incremental decoding). */
function samplingFlops(forwardFlops: typeof ForwardFlops, config: ModelConfig, context: number, newTokens: number) {
  // The first pass: every context position against every context key (masked, not skipped), logits of the last only.
  let flops = forwardFlops(config, context, context) - 2 * (context - 1) * config.width * config.vocabSize;
  // Then one position a token against the keys so far (the last token drawn is never fed back).
  for (let t = 1; t < newTokens; t++) flops += forwardFlops(config, 1, context + t);
  return flops;
}

/** One round: RL steps from the warm start, then sampling at each row count. */
export async function measureRound(job: SideJob): Promise<SideRound> {
  const src = await sources(job.src);
  const { config } = job;
  const out = await mkdtemp(join(tmpdir(), 'turngym-bench-train-'));
  const marks: { cpu: number; wall: number }[] = [];
  let records: Record<string, number>[];
  try {
    await src.trainer.train(
      {
        ...(config.options as object),
        init: job.warmStart,
        steps: config.steps + 1,
        evalEpisodes: 0,
        checkpointEvery: 0,
        trajectoriesPerStep: 0,
        out,
      },
      { log: () => {}, onStep: () => marks.push({ cpu: cpuSeconds(), wall: now() / 1000 }) },
    );
    records = new src.runDirectory.RunDirectory(out).metrics().slice(1) as Record<string, number>[];
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  const first = marks[0]!;
  const last = marks[marks.length - 1]!;
  const backend = src.backend.currentBackend?.()?.name ?? 'unknown';

  const policy = await src.checkpoint.loadCheckpoint(job.warmStart);
  const { rows, contextTokens, newTokens } = config.sampling;
  const vocab = policy.tokenizer.vocabSize;
  const contextOf = (row: number) =>
    Array.from({ length: contextTokens }, (_, t) => 1 + ((row * 7919 + t * 104729) % (vocab - 1)));
  // Untimed, the prefill of the most rows: the first pass at a size grows the WebAssembly heap (once a process).
  policy.sample(
    Array.from({ length: Math.max(...rows) }, (_, row) => contextOf(row)),
    { maxTokens: 1, stopToken: -1 },
  );
  const ceiling = [matmulRate(src.tf)];
  const sampling: SideRound['sampling'] = [];
  for (const count of rows) {
    const contexts = Array.from({ length: count }, (_, row) => contextOf(row));
    const start = now();
    // stopToken -1: never stop early, so every row writes `newTokens` tokens.
    policy.sample(contexts, { maxTokens: newTokens, stopToken: -1 });
    const seconds = (now() - start) / 1000;
    const flops = count * samplingFlops(src.model.forwardFlops, policy.config, contextTokens, newTokens);
    sampling.push({ rows: count, seconds, new_tokens: count * newTokens, flops });
    ceiling.push(matmulRate(src.tf));
  }
  policy.dispose();
  return {
    backend,
    records,
    cpu_s: last.cpu - first.cpu,
    wall_s: last.wall - first.wall,
    sampling,
    ceiling_gflops_per_s: ceiling,
  };
}

/** This file, for `node ... SIDE_ENTRY JOB`. */
export const SIDE_ENTRY = fileURLToPath(import.meta.url);

// The entry point of the child processes: the job's result as one JSON line.
await runChildJob(SIDE_ENTRY, (job: SideJob): Promise<SideWarmStart | SideRound> =>
  job.kind === 'warm-start' ? buildWarmStart(job) : measureRound(job),
);
