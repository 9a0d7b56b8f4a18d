/**
 * `turngym bench code`: the code/ interpreter's speed, against a subprocess-per-call baseline run in the same
 * process (spawning `node -e` for each snippet, the way Python agent stacks spawn a subprocess per tool call).
 *
 * Figures: warm step latency (p50/p99) and steps/s of a trivial `run` through the full wrapper stack, the
 * same call straight into isolated-vm (the floor the env adds its overhead to), reset latency (after a step,
 * the usual case, and back to back), 16 envs stepped at once, and the speed-up over the baseline.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Action, Env } from '../src/envs/env.js';
import { make } from '../src/envs/registry.js';
import { loadIsolatedVm } from '../src/envs/code/sandbox.js';
import { latencies, latencySummary, median, now, round } from './stats.js';
import '../src/envs/builtin.js';

const ID = 'code/calc-v0';
const TRIVIAL: Action = { tool: 'run', args: { code: '1 + 1' } };
const run = promisify(execFile);

export interface CodeBenchOptions {
  steps?: number;
  resets?: number;
  poolSize?: number;
  poolBatches?: number;
  subprocessCalls?: number;
}

/** p50/p99 of a trivial eval straight through isolated-vm (no env, no driver). */
async function isolatedVmFloor(count: number) {
  const ivm = await loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  await latencies(200, () => context.eval('1 + 1', { timeout: 1000 }));
  const samples = await latencies(count, () => context.eval('1 + 1', { timeout: 1000 }));
  isolate.dispose();
  return samples;
}

async function stepLatencies(env: Env, count: number): Promise<number[]> {
  await env.reset({ seed: 1 });
  await latencies(200, () => env.step(TRIVIAL));
  return latencies(count, () => env.step(TRIVIAL));
}

export async function runCodeBench(options: CodeBenchOptions = {}) {
  const steps = options.steps ?? 5000;
  const resets = options.resets ?? 500;
  const poolSize = options.poolSize ?? 16;
  const poolBatches = options.poolBatches ?? 200;
  const subprocessCalls = options.subprocessCalls ?? 20;

  const env = await make(ID, {}, { maxTurns: 1_000_000_000 });
  const stepSamples = await stepLatencies(env, steps);
  const floorSamples = await isolatedVmFloor(steps);
  const start = now();
  for (let i = 0; i < steps; i++) await env.step(TRIVIAL);
  const stepsPerSecond = (steps / (now() - start)) * 1000;

  // Reset after a step (the usual case: the next context was built in the background during the episode).
  const resetAfterStep: number[] = [];
  for (let i = 0; i < resets; i++) {
    await env.step(TRIVIAL);
    const begin = now();
    await env.reset({ seed: i });
    resetAfterStep.push(now() - begin);
  }
  const resetBackToBack = await latencies(Math.min(resets, 200), (i) => env.reset({ seed: i }));
  await env.close();

  const pool = await Promise.all(Array.from({ length: poolSize }, () => make(ID, {}, { maxTurns: 1_000_000_000 })));
  await Promise.all(pool.map((member, seed) => member.reset({ seed })));
  const stepAll = () => Promise.all(pool.map((member) => member.step(TRIVIAL)));
  for (let b = 0; b < 20; b++) await stepAll();
  const poolStart = now();
  for (let b = 0; b < poolBatches; b++) await stepAll();
  const poolStepsPerSecond = ((poolBatches * poolSize) / (now() - poolStart)) * 1000;
  await Promise.all(pool.map((member) => member.close()));

  const subprocessSamples = await latencies(subprocessCalls, () => run(process.execPath, ['-e', 'console.log(1 + 1)']));

  const stepP50 = median(stepSamples);
  const floorP50 = median(floorSamples);
  const subprocessP50 = median(subprocessSamples);
  return {
    benchmark: 'code',
    env: ID,
    snippet: '1 + 1',
    step: { ...latencySummary(stepSamples), steps_per_s: round(stepsPerSecond) },
    isolated_vm_eval: latencySummary(floorSamples),
    step_overhead_ms_p50: round(stepP50 - floorP50),
    reset_after_step: latencySummary(resetAfterStep),
    reset_back_to_back: latencySummary(resetBackToBack),
    pool: { size: poolSize, steps_per_s: round(poolStepsPerSecond) },
    subprocess_baseline: {
      command: 'node -e <snippet>',
      ...latencySummary(subprocessSamples),
      calls_per_s: round(1000 / subprocessP50),
    },
    speedup_vs_subprocess_p50: round(subprocessP50 / stepP50),
    targets: { step_overhead_ms_p50: 0.1, reset_ms_p50: 3, speedup: 100 },
  };
}
