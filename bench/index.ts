/**
 * Every benchmark, by name. Each prints one JSON object; figures compare against a baseline measured in
 * the same run (ratios, medians), never against fixed timings. Modules load lazily: a benchmark's heavy
 * dependencies (Chromium, TensorFlow.js) load only when it runs.
 */
export interface BenchOptions {
  /** A short run (smoke tests), not for reporting figures. */
  quick?: boolean;
  /** `--config NAME`: one of the benchmark's configurations. */
  config?: string;
  /** `--baseline-dir DIR`: a source tree of another commit to measure side by side. */
  baselineDir?: string;
}

/** The options only some benchmarks take. */
export type BenchOption = Exclude<keyof BenchOptions, 'quick'>;

export interface Benchmark {
  description: string;
  /** The options besides `quick` that it takes (`turngym bench` refuses the others). */
  takes?: readonly BenchOption[];
  run(options: BenchOptions): Promise<Record<string, unknown>>;
}

export const benchmarks: Record<string, Benchmark> = {
  code: {
    description: 'code/ interpreter: warm step and reset latency, 16 envs at once, vs spawning `node -e` per call',
    run: async ({ quick }) =>
      (await import('./code.js')).runCodeBench(
        quick ? { steps: 1000, resets: 100, poolBatches: 50, subprocessCalls: 5 } : {},
      ),
  },
  web: {
    description:
      'web/ envs in Chromium: step latency p50/p95 (action plus observation), reset latency, steps/s with 8 envs at once, vs a naive Playwright loop (new page per reset, default waits, full aria snapshot per step)',
    run: async ({ quick }) =>
      (await import('./web.js')).runWebBench(quick ? { episodes: 1, concurrency: 2, durationMs: 2000, rounds: 1 } : {}),
  },
  'web-idle': {
    description:
      "what a rollout's open web pages cost the trainer while they wait: Chromium's CPU over an idle window with 128 forms envs left mid-episode, and the backend's matrix-product rate with the pages open vs closed; with --baseline-dir, the same for another commit's tree, alternating rounds",
    takes: ['baselineDir'],
    run: async ({ quick, baselineDir }) => (await import('./web-idle.js')).runWebIdleBench({ quick, baselineDir }),
  },
  'web-browsers': {
    description:
      "web/ envs in the machine's own Chromium (the PATH) vs the one packaged with @sparticuz/chromium: step and reset latency p50/p95, launch time, ratios of medians",
    run: async ({ quick }) => (await import('./web.js')).runBrowserBench(quick ? { episodes: 1, rounds: 1 } : {}),
  },
  openenv: {
    description:
      "OpenEnv's protocol (serve --openenv) against protocol v1 and in-process on guess-number: per-step p50/p99 and steps/s with 64 sessions",
    run: async ({ quick }) =>
      (await import('./openenv.js')).runOpenEnvBench(quick ? { steps: 500, rounds: 2, durationMs: 800 } : {}),
  },
  ws: {
    description:
      'WebSocket protocol: per-step round trip vs in-process (p50/p99), steps/s with 64 sessions over 8 connections, memory per idle session',
    run: async ({ quick }) =>
      (await import('./ws.js')).runWs(quick ? { steps: 1000, rounds: 2, durationMs: 1000, idleSessions: 200 } : {}),
  },
  demonstrations: {
    description:
      "oracle demonstrations (behaviour cloning's first phase) on one env vs several side by side: episodes/s of web/forms-v0 in Chromium and of the quickstart's search env, ratios of medians",
    run: async ({ quick }) =>
      (await import('./demonstrations.js')).runDemonstrationBench(quick ? { episodes: 8, rounds: 1 } : {}),
  },
  'env-step': {
    description: 'steps/s of guess-number: bare env vs the full wrapper stack vs the episode player over 64 envs',
    run: async ({ quick }) => (await import('./env-step.js')).runEnvStep(quick ? { steps: 2000, rounds: 2 } : {}),
  },
  search: {
    description:
      'search/ engine: FTS5 index build rate and query p50/p99 at 10k and 100k docs (entity names, 3 common words): raw engine vs env vs exhaustive FTS5 vs MiniSearch; snippets of 20 documents of 100 KB (a query of stopwords, a name), old vs new',
    run: async ({ quick }) =>
      (await import('./search.js')).runSearchBench(
        quick ? { sizes: [5000], entityQueries: 200, commonQueries: 40, longDocumentRounds: 3 } : {},
      ),
  },
  scale: {
    description:
      'env servers: aggregate steps/s with 1, 2 and 4 server processes (serve --workers) under load from 2 client processes; time from killing (SIGKILL) or freezing (SIGSTOP) a server to the pool routing around it',
    run: async ({ quick }) =>
      (await import('./scale.js')).runScale(quick ? { rounds: 1, durationMs: 800, sessionsPerClient: 8 } : {}),
  },
  report: {
    description: 'run reports: TensorBoard vs JSONL metrics writes per step; writeReport vs readRun, 1 and 3 runs',
    run: async ({ quick }) =>
      (await import('./report.js')).runReportBench(quick ? { steps: 200, rounds: 2, records: 200 } : {}),
  },
  train: {
    description:
      "RL training step as the presets run it (guess-number: 32 tasks x 8, GRPO; search: the quickstart's copy-head model and 512-token context, GRPO with a KL term) from a warm start made by behaviour cloning: medians of env, sampling, scoring and update time, cores used, sampling tokens/s at 16, 64 and 256 rows vs the matmul ceiling; with --baseline-dir, the same for another commit's tree, alternating rounds, and the speed-ups",
    takes: ['config', 'baselineDir'],
    run: async ({ quick, config, baselineDir }) =>
      (await import('./train.js')).runTrainBench({ quick, config, baselineDir }),
  },
  policy: {
    description:
      "policy model: training tokens/s and GFLOP/s at 512..8192-token batches vs the same backend's large-matmul rate; sampling tokens/s with and without the KV cache",
    run: async ({ quick }) =>
      (await import('./policy.js')).runPolicyBench(
        quick ? { batchTokens: [512, 1024], rounds: 1, sampleRows: 4, sampleContext: 32, sampleTokens: 8 } : {},
      ),
  },
};
