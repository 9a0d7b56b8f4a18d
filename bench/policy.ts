/**
 * `turngym bench policy`: speed of the default policy model on the backend in use.
 *
 * - The ceiling: the same backend's rate on one large matrix product ([1024,1024] x [1024,1024]), measured
 *   in the same run, between the training rounds, so that a busy machine slows both alike.
 * - Training: tokens/s and achieved GFLOP/s of a full update (forward, backward, AdamW) of the default
 *   model at batches of 512 to 8192 tokens (sequences of 128 tokens), and the ratio to the ceiling. FLOPs
 *   count the model's matrix products (projections, MLP, attention scores and sums, head) x 3 for training.
 * - Sampling: new tokens/s of batched sampling with incremental decoding (KV cache) and with the whole
 *   context recomputed for every token.
 * Figures are medians over rounds, after one untimed step at every size (the first step at a size grows the
 * WebAssembly heap, seconds that a long run pays once).
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/agent/policy/backend.js';
import { forwardFlops } from '../src/agent/policy/model.js';
import { Policy } from '../src/agent/policy/policy.js';
import { Tokenizer } from '../src/agent/policy/tokenizer.js';
import { Rng } from '../src/core/rng.js';
import { matmulRate } from './matmul.js';
import { median, now, round } from './stats.js';

export interface PolicyBenchOptions {
  batchTokens?: number[];
  rounds?: number;
  sequenceLength?: number;
  /** Sampling: rows, context tokens, new tokens. */
  sampleRows?: number;
  sampleContext?: number;
  sampleTokens?: number;
}

/** A tokenizer with about 1,000 ids (a typical size for the task suites' text). */
function benchTokenizer(): Tokenizer {
  const letters = (n: number) =>
    String.fromCharCode(97 + (n % 26)) +
    String.fromCharCode(97 + (Math.floor(n / 26) % 26)) +
    String.fromCharCode(97 + Math.floor(n / 676));
  const words = Array.from({ length: 1024 - 263 }, (_, i) => ` w${letters(i)}`);
  return Tokenizer.fit([...words, ...words], { maxVocab: 1024 });
}

export async function runPolicyBench(options: PolicyBenchOptions = {}) {
  const backend = await initBackend('auto', () => {});
  const batches = options.batchTokens ?? [512, 1024, 2048, 4096, 8192];
  const rounds = options.rounds ?? 2;
  const length = options.sequenceLength ?? 128;
  const tokenizer = benchTokenizer();
  const policy = Policy.create({ tokenizer, seed: 0 });
  const rng = Rng.fromSeed(0);
  const sequencesOf = (tokens: number) =>
    Array.from({ length: Math.max(1, Math.floor(tokens / length)) }, () => {
      const ids = Array.from({ length }, () => rng.int(7 + 256, tokenizer.vocabSize - 1));
      // Loss on the second half, as on action tokens after a context.
      return { tokens: ids, targetMask: ids.map((_, t) => (t >= length / 2 ? 1 : 0)) };
    });
  const trainStep = (sequences: ReturnType<typeof sequencesOf>) =>
    policy.update(() => tf.neg(tf.mean(policy.tokenLogprobs(sequences).logprobs)) as tf.Scalar);

  const ceiling: number[] = [];
  const training = new Map<number, number[]>();
  // Warm-up at every size: the first step at a size grows the WebAssembly heap (seconds, once per process).
  for (const tokens of batches) trainStep(sequencesOf(tokens));
  for (let r = 0; r < rounds; r++) {
    ceiling.push(matmulRate(tf, 1024));
    for (const tokens of batches) {
      const sequences = sequencesOf(tokens);
      const start = now();
      trainStep(sequences);
      const seconds = (now() - start) / 1000;
      training.set(tokens, [...(training.get(tokens) ?? []), (sequences.length * length) / seconds]);
    }
  }
  ceiling.push(matmulRate(tf, 1024));
  const ceilingRate = median(ceiling);
  const config = policy.config;
  const trainingRows = batches.map((tokens) => {
    const tokensPerSecond = median(training.get(tokens)!);
    // Every position attends to `length` keys in the computation (the causal half is masked, not skipped).
    const gflops = (3 * forwardFlops(config, length, length) * tokensPerSecond) / length / 1e9;
    return {
      batch_tokens: tokens,
      tokens_per_s: round(tokensPerSecond),
      gflops_per_s: round(gflops),
      ratio_to_matmul: round(gflops / ceilingRate, 3),
    };
  });

  const rows = options.sampleRows ?? 16;
  const contextLength = options.sampleContext ?? 64;
  const newTokens = options.sampleTokens ?? 32;
  const contexts = Array.from({ length: rows }, () =>
    Array.from({ length: contextLength }, () => rng.int(7 + 256, tokenizer.vocabSize - 1)),
  );
  const sampling = { incremental: [] as number[], full: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (const incremental of [true, false]) {
      const start = now();
      // stopToken -1: never stop early, so both variants write exactly `newTokens` per row.
      policy.sample(contexts, { maxTokens: newTokens, stopToken: -1, incremental, rng: Rng.fromSeed(r) });
      sampling[incremental ? 'incremental' : 'full'].push((rows * newTokens) / ((now() - start) / 1000));
    }
  }
  const parameters = policy.model.parameterCount;
  policy.dispose();
  const largest = trainingRows[trainingRows.length - 1]!;
  return {
    benchmark: 'policy',
    backend: backend.name,
    backend_reason: backend.reason,
    model: { ...config, parameters },
    sequence_length: length,
    rounds,
    load_average_1m: round(loadavg()[0]!, 3),
    matmul_ceiling_gflops_per_s: round(ceilingRate),
    training: trainingRows,
    largest_batch_ratio_to_matmul: largest.ratio_to_matmul,
    sampling: {
      rows,
      context_tokens: contextLength,
      new_tokens: newTokens,
      incremental_tokens_per_s: round(median(sampling.incremental)),
      full_recompute_tokens_per_s: round(median(sampling.full)),
      speedup: round(median(sampling.incremental) / median(sampling.full), 3),
    },
  };
}
