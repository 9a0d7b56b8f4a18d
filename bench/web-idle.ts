/**
 * `turngym bench web-idle`: what a rollout's open pages cost the trainer while they wait. RL keeps its web
 * envs (one browser, a context each) open between steps, so while the policy updates, every page sits where
 * the rollout's last action left it. This benchmark plays `actions` of its oracle's actions on each of `pages`
 * web/forms-v0 envs and then clicks Submit early, as a policy does: a form with a required field still empty
 * refuses it (`submits_refused`; Chromium focuses that field and shows its validation bubble), the others end
 * the episode (`episodes_ended`; the result page). Then it measures:
 *
 * - the browser's CPU time over an idle window (its live processes under this one, in cores), and
 * - the trainer backend's rate on a large matrix product (matmul.ts) with the pages open, and again after
 *   closing them: `matmul_open_over_closed` below 1 is what the idle pages take from an update.
 *
 * Section 46 of docs/experiments.md found that after a step's rollouts Chromium stayed busy on both cores
 * (29-30 CPU s in 15 idle s with 128 forms pages) and made the same update 2.6x slower, and that a blur ended
 * it; this benchmark found the state that costs it: a refused submission's validation bubble, anchored at the
 * focused empty field (a focused field alone costs far less). Since 57fe328 the page script blurs what an
 * action focused, which hides the bubble. With `baselineDir` (`--baseline-dir DIR`: a worktree of another
 * commit, e.g. one before that change), every round measures both trees, each in a child process of its own
 * (its own browser), alternating which goes first; `compared` holds the difference of the medians of the
 * browser's idle cores (baseline minus this) and the ratio of the sides' `matmul_open_over_closed` (above 1:
 * this tree's idle pages take less from the product).
 * The measuring code is this file on both sides; of the measured tree it imports only `make` and its envs.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/agent/policy/backend.js';
import type { Env, ResetInfo, StepInfo } from '../src/envs/env.js';
import { baselineSource, commitOf, ROOT, runChildJob, runInChild } from './baseline.js';
import { matmulRate } from './matmul.js';
import { median, now, round } from './stats.js';

const ENV_ID = 'web/forms-v0';
const KWARGS = { difficulty: 1 };

export interface WebIdleBenchOptions {
  /** Envs left open, as a rollout of 16 tasks x 8 leaves them (default 128). */
  pages?: number;
  /** Oracle actions each env plays after its reset (default 1). */
  actions?: number;
  /** Seconds of the idle window (default 15). */
  idleSeconds?: number;
  /** Matrix products timed with the pages open and after closing them; figures are medians (default 9). */
  products?: number;
  /** Rounds per side (default 2). */
  rounds?: number;
  /** A turngym source tree (a git worktree of another commit) to compare with. */
  baselineDir?: string;
  /** Progress lines (default: standard error). */
  log?: (line: string) => void;
}

/** One side's measurement: which tree, which seeds, how much of everything. */
interface IdleJob {
  src: string;
  pages: number;
  actions: number;
  idleSeconds: number;
  products: number;
  firstSeed: number;
}

interface IdleRound {
  backend: string;
  /** Envs whose episode ended within the set-up (their page shows the result). */
  episodes_ended: number;
  /** Envs whose early Submit the form refused (a required field empty: the validation bubble's state). */
  submits_refused: number;
  /** Chromium's CPU seconds over the idle window, divided by its length. */
  browser_cores_idle: number;
  /** CPU seconds of the browser's live processes from its launch to the end of the idle window. */
  browser_cpu_s: number;
  /** Median GFLOP/s of a 1024 x 1024 product while the pages are open, and after they are closed. */
  matmul_open_gflops: number;
  matmul_closed_gflops: number;
}

/** Envs played at once while they are set up (the trainer's `--env-concurrency`). */
const SETUP_CONCURRENCY = 16;
/** Seconds between the last action and the idle window, so the pages' own work after an action is not counted. */
const SETTLE_SECONDS = 1;

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** CPU seconds (user and system) so far of every Chromium process descending from this one. */
function browserCpuSeconds(): number {
  const tick = clockTick();
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces and parentheses): state, ppid, ..., utime (14), stime (15).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      parents.set(Number(entry), Number(fields[1]));
      if (/chrom|headless_shell/i.test(cmdline))
        cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / tick);
    } catch {
      // The process ended while it was read.
    }
  }
  const descends = (pid: number): boolean => {
    for (let at = parents.get(pid); at !== undefined && at > 1; at = parents.get(at))
      if (at === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, seconds] of cpu) if (descends(pid)) total += seconds;
  return total;
}

let ticks: number | undefined;
function clockTick(): number {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticks;
}

/** Median rate of `count` products on the trainer's backend. */
function matmulMedian(count: number): number {
  return median(Array.from({ length: count }, () => matmulRate(tf, 1024)));
}

/**
 * Plays `actions` of the oracle's actions on a new episode, then clicks Submit early, as a policy does: where a
 * required field is still empty the form refuses it ('refused'; Chromium then focuses that field and shows its
 * validation bubble), where none is, the episode ends ('ended'; the result page), and a form whose Submit
 * opens a confirmation first is left with it open ('open').
 */
async function leaveMidEpisode(env: Env, seed: number, actions: number): Promise<'ended' | 'refused' | 'open'> {
  const reset = await env.reset({ seed });
  let observation = reset.observation;
  let info: ResetInfo | StepInfo = reset.info;
  const oracle = env.oracle!();
  for (let action = 0; action < actions; action++) {
    const step = await env.step(await oracle.next(observation, info));
    if (step.terminated || step.truncated) return 'ended';
    ({ observation, info } = step);
  }
  const submit = /\[(\d+)\] button "Submit"/.exec(observation.text);
  if (!submit) return 'open';
  const step = await env.step(`click(id=${submit[1]})`);
  if (step.terminated || step.truncated) return 'ended';
  return step.info.error !== undefined ? 'refused' : 'open';
}

/** One round of one tree: envs left mid-episode, the idle window, the products with the pages open and closed. */
async function measureIdle(job: IdleJob): Promise<IdleRound> {
  if (process.platform !== 'linux') throw new Error('bench web-idle reads /proc: it runs on Linux only.');
  const backend = await initBackend('auto', () => {});
  const load = <T>(path: string) => import(pathToFileURL(join(job.src, path)).href) as Promise<T>;
  await load('envs/builtin.js');
  const { make } = await load<typeof import('../src/envs/registry.js')>('envs/registry.js');
  const envs = await Promise.all(Array.from({ length: job.pages }, () => make(ENV_ID, KWARGS)));
  const outcomes = { ended: 0, refused: 0 };
  try {
    for (let first = 0; first < envs.length; first += SETUP_CONCURRENCY) {
      const played = envs
        .slice(first, first + SETUP_CONCURRENCY)
        .map((env, offset) => leaveMidEpisode(env, job.firstSeed + first + offset, job.actions));
      for (const outcome of await Promise.all(played)) if (outcome !== 'open') outcomes[outcome]++;
    }
    await sleep(SETTLE_SECONDS);
    const before = { cpu: browserCpuSeconds(), at: now() };
    await sleep(job.idleSeconds);
    const after = browserCpuSeconds();
    const browserCores = (after - before.cpu) / ((now() - before.at) / 1000);
    const open = matmulMedian(job.products);
    await Promise.all(envs.splice(0).map((env) => env.close()));
    await sleep(SETTLE_SECONDS);
    const closed = matmulMedian(job.products);
    return {
      backend: backend.name,
      episodes_ended: outcomes.ended,
      submits_refused: outcomes.refused,
      browser_cores_idle: round(browserCores, 3),
      browser_cpu_s: round(after, 4),
      matmul_open_gflops: round(open),
      matmul_closed_gflops: round(closed),
    };
  } finally {
    await Promise.all(envs.map((env) => env.close()));
  }
}

/** Medians over a side's rounds. */
function summary(rounds: readonly IdleRound[]) {
  const of = (key: Exclude<keyof IdleRound, 'backend'>) => round(median(rounds.map((r) => r[key])), 4);
  const open = of('matmul_open_gflops');
  const closed = of('matmul_closed_gflops');
  return {
    episodes_ended: of('episodes_ended'),
    submits_refused: of('submits_refused'),
    browser_cores_idle: of('browser_cores_idle'),
    browser_cpu_s: of('browser_cpu_s'),
    matmul_open_gflops: open,
    matmul_closed_gflops: closed,
    matmul_open_over_closed: round(open / closed, 3),
    rounds: rounds.length,
  };
}

export async function runWebIdleBench(options: WebIdleBenchOptions & { quick?: boolean } = {}) {
  const quick = options.quick ?? false;
  const baselineSrc =
    options.baselineDir === undefined
      ? undefined
      : baselineSource(options.baselineDir, 'envs/web/env.ts', ['playwright-core']);
  const log = options.log ?? ((line: string) => console.error(line));
  const shape = {
    pages: options.pages ?? (quick ? 4 : 128),
    actions: options.actions ?? 1,
    idleSeconds: options.idleSeconds ?? (quick ? 1 : 15),
    products: options.products ?? (quick ? 1 : 9),
  };
  const rounds = options.rounds ?? (quick ? 1 : 2);
  const sides = [
    ...(baselineSrc ? [{ name: 'baseline' as const, src: baselineSrc }] : []),
    { name: 'this' as const, src: join(ROOT, 'src') },
  ];
  const results: Record<string, IdleRound[]> = { baseline: [], this: [] };
  for (let r = 0; r < rounds; r++) {
    // New seeds every round (a page seen before could be cached); the same for both trees within a round.
    const job = { ...shape, firstSeed: 1_000_000 + r * shape.pages };
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      const label = `${side.name}, round ${r + 1}/${rounds}`;
      const measured = baselineSrc
        ? await runInChild<IdleRound>(ENTRY, { ...job, src: side.src }, `bench web-idle: ${label}`)
        : await measureIdle({ ...job, src: side.src });
      log(`[bench web-idle] ${label}: ${JSON.stringify(measured)}`);
      results[side.name]!.push(measured);
    }
  }
  const current = summary(results.this!);
  const baseline = baselineSrc ? summary(results.baseline!) : undefined;
  return {
    benchmark: 'web-idle',
    backend: results.this![0]!.backend,
    env: ENV_ID,
    kwargs: KWARGS,
    quick,
    ...shape,
    load_average_1m: round(loadavg()[0]!, 3),
    this_commit: commitOf(ROOT) ?? null,
    this: current,
    ...(baseline && options.baselineDir !== undefined
      ? {
          baseline_dir: resolve(options.baselineDir),
          baseline_commit: commitOf(options.baselineDir) ?? null,
          baseline,
          compared: {
            // Above 0 / above 1: this tree's idle pages keep the browser less busy / take less from the product.
            browser_cores_idle_saved: round(baseline.browser_cores_idle - current.browser_cores_idle, 3),
            matmul_open_over_closed: round(current.matmul_open_over_closed / baseline.matmul_open_over_closed, 3),
          },
        }
      : {}),
  };
}

/** This file, run as a side's child process (`node --import tsx bench/web-idle.ts JOB`). */
const ENTRY = fileURLToPath(import.meta.url);

await runChildJob(ENTRY, measureIdle);
