/**
 * The policy: a tokenizer, a transformer and its optimizer, with what acting and training need:
 *
 * - `sample`: batched sampling (temperature, top-p) with incremental decoding, returning each token's
 *   log-prob and the entropy of its distribution;
 * - `score`: per-token log-probs of forced continuations (information-gain rewards);
 * - `tokenLogprobs`: differentiable log-probs and entropies of chosen tokens, for losses inside
 *   `computeGradients` / `update`;
 * - checkpoints (weights, optimizer state, tokenizer, config): `saveCheckpoint` / `loadCheckpoint` in checkpoint.ts.
 *
 * Log-probs and entropies are those of softmax(logits / temperature), before top-p truncation (as verl
 * computes them), so `sample`, `score` and `tokenLogprobs` agree at the same temperature. With temperature
 * 0 (greedy) they are reported at temperature 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TurngymError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { Decoder, type DecodingPart } from './decoder.js';
import { type ModelConfig, TransformerModel, modelConfigSchema } from './model.js';
import { AdamW, type OptimizerConfig } from './optimizer.js';
import {
  objectiveGradients,
  type ScoredSequence,
  type TokenLogprobs,
  type TokenObjective,
  concatenate,
  modelGradients,
  targetCount,
  targetLogprobs,
  tokenObjective,
} from './logprobs.js';
import {
  type PolicyThread,
  PolicyThreads,
  type WorkerReply,
  type WorkerRequest,
  shareParts,
} from './policy-threads.js';
import type { Tokenizer } from './tokenizer.js';

export interface PolicyOptions {
  tokenizer: Tokenizer;
  /** Model shape; `vocabSize` comes from the tokenizer. */
  model?: Partial<Omit<ModelConfig, 'vocabSize'>>;
  optimizer?: Partial<OptimizerConfig>;
  /** Most tokens one action may have (the room kept free in the context). Default 48. */
  maxActionTokens?: number;
  /** Seed of the weight initialisation. */
  seed?: number;
}

export interface SampleOptions {
  /** Most new tokens per row. Default: the policy's `maxActionTokens`. */
  maxTokens?: number;
  /** Softmax temperature; 0 picks the most likely token. Default 1. */
  temperature?: number;
  /** Nucleus sampling: sample from the smallest set of tokens with this much probability. Default 1. */
  topP?: number;
  /** Random source (seeded); default Rng.fromSeed(0). */
  rng?: Rng;
  /** Stop a row when it writes this token. Default `<|end|>`. */
  stopToken?: number;
  /** Reuse keys and values of earlier positions (default true); false recomputes the whole context per token. */
  incremental?: boolean;
  /**
   * Most padded tokens (rows x (longest context + maxTokens)) sampled in one batch (default 65,536); more
   * rows are sampled in several batches, in order, so that the WebAssembly heap is not exhausted.
   */
  maxBatchTokens?: number;
  /**
   * Most attention scores (rows x heads x longest context^2, the score matrix of one layer in the first
   * pass over the contexts) in one batch (default {@link MAX_SAMPLE_ATTENTION_SCORES}); fewer rows are sampled
   * at once where the contexts are long, whatever `maxBatchTokens` allows.
   */
  maxAttentionScores?: number;
}

/**
 * The default of `SampleOptions.maxAttentionScores`. Padded tokens alone do not bound sampling's memory: the
 * first pass over the contexts holds rows x heads x length^2 scores per layer. Measured on the wasm backend
 * (4 GB heap; 2 layers, width 128, 4 heads, 48 new tokens): 170 rows of 336-token contexts (76.8M scores,
 * 65,280 padded tokens, within the default 65,536) ran out of memory; 150 rows (67.7M) did not. This bound is
 * two thirds of the failure, above the 37.9M of the largest batches the earlier code runs sampled (128 rows of
 * 272-token contexts), which therefore sample as before.
 */
export const MAX_SAMPLE_ATTENTION_SCORES = 48 * 2 ** 20;

/** One sampled continuation. */
export interface Sample {
  /** Sampled ids, including the stop token when it was written. */
  tokens: number[];
  /** Log-prob of each sampled token. */
  logprobs: number[];
  /** Entropy (nats) of the distribution each token was drawn from. */
  entropies: number[];
  /** Decoded text, without the stop token. */
  text: string;
  /** Whether the row ended with the stop token (false: cut at maxTokens). */
  finished: boolean;
}

/**
 * Splits items, in order, into runs whose padded size (count x longest `length`) stays within `budget` and
 * whose count is at most `maxItems` (at least one item each): the passes through the transformer of sampling,
 * scoring and training updates.
 */
export function paddedBatches<T>(
  items: readonly T[],
  budget: number,
  length: (item: T) => number,
  maxItems = Infinity,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let longest = 0;
  for (const item of items) {
    if (
      current.length > 0 &&
      (current.length >= maxItems || (current.length + 1) * Math.max(longest, length(item)) > budget)
    ) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(item);
    longest = Math.max(longest, length(item));
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The batch of sequences of these lengths cut into at most `count` passes of at most `maxTokens` padded tokens
 * (sequences x longest), longest first, the largest pass as small as it can be: the smallest budget whose
 * {@link paddedBatches} are `count` or fewer. Undefined when even `maxTokens` needs more passes.
 */
export function balancedPasses(lengths: readonly number[], count: number, maxTokens: number): number[][] | undefined {
  const order = lengths.map((_, index) => index).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const cut = (budget: number) => paddedBatches(order, budget, (index) => lengths[index]!);
  if (cut(maxTokens).length > count) return undefined;
  let low = Math.min(Math.max(...lengths), maxTokens);
  let high = maxTokens;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (cut(middle).length <= count) high = middle;
    else low = middle + 1;
  }
  return cut(low);
}

export class Policy {
  readonly model: TransformerModel;
  readonly optimizer: AdamW;
  /** Padded tokens of the last `tokenLogprobs` pass (to say how large a pass ran out of memory). */
  private lastPassTokens: number | undefined;
  /**
   * The threads that sampling and passes over whole sequences are split between (policy-threads.ts); replace it
   * to choose how many (`new PolicyThreads(1)`: this thread only).
   */
  threads = new PolicyThreads();

  constructor(
    readonly tokenizer: Tokenizer,
    model: TransformerModel,
    optimizer: AdamW,
    /** Most tokens one action may have. */
    readonly maxActionTokens: number,
  ) {
    this.model = model;
    this.optimizer = optimizer;
    if (model.config.copy)
      model.copyVariants = {
        ...tokenizer.spaceVariants(),
        copyable: tokenizer.copyable(model.config.copyPunctuation),
      };
  }

  /** A freshly initialised policy. Call `initBackend` first. */
  static create(options: PolicyOptions): Policy {
    const config = modelConfigSchema.parse({ ...options.model, vocabSize: options.tokenizer.vocabSize });
    const maxActionTokens = options.maxActionTokens ?? 48;
    if (maxActionTokens >= config.contextLength / 2) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `maxActionTokens (${maxActionTokens}) must be less than half the context length (${config.contextLength}).`,
      );
    }
    return new Policy(
      options.tokenizer,
      new TransformerModel(config, options.seed ?? 0),
      new AdamW(options.optimizer),
      maxActionTokens,
    );
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  /** The trainable variables (pass them to tf.variableGrads, or use `computeGradients`). */
  get variables(): tf.Variable[] {
    return [...this.model.variables.values()];
  }

  /** Tokens available for the context when an action of `maxActionTokens` must still fit. */
  get contextBudget(): number {
    return this.config.contextLength - this.maxActionTokens;
  }

  /** Samples a continuation of each context (batched). */
  sample(contexts: readonly (readonly number[])[], options: SampleOptions = {}): Sample[] {
    const maxTokens = options.maxTokens ?? this.maxActionTokens;
    const temperature = options.temperature ?? 1;
    const topP = options.topP ?? 1;
    const rng = options.rng ?? Rng.fromSeed(0);
    const stopToken = options.stopToken ?? this.tokenizer.special('<|end|>');
    const incremental = options.incremental ?? true;
    if (contexts.length === 0) return [];
    if (contexts.some((context) => context.length === 0))
      throw new TurngymError('INVALID_OPTIONS', 'sample: every context needs at least one token.');
    if (!(temperature >= 0) || !(topP > 0 && topP <= 1))
      throw new TurngymError(
        'INVALID_OPTIONS',
        `sample: temperature must be >= 0 and topP in (0, 1]; got ${temperature} and ${topP}.`,
      );
    const batch = contexts.length;
    const longest = Math.max(...contexts.map((context) => context.length));
    if (longest + maxTokens > this.config.contextLength) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `sample: a context of ${longest} tokens plus ${maxTokens} new tokens exceeds the context length ${this.config.contextLength}; fit the context with buildContext first.`,
      );
    }
    const maxRows = Math.max(
      1,
      Math.floor((options.maxAttentionScores ?? MAX_SAMPLE_ATTENTION_SCORES) / (this.config.heads * longest * longest)),
    );
    const parts = paddedBatches(
      contexts,
      options.maxBatchTokens ?? 65_536,
      (context) => context.length + maxTokens,
      maxRows,
    );
    if (parts.length > 1) return parts.flatMap((part) => this.sample(part, { ...options, rng }));
    return outOfMemoryAsError(
      () => this.sampleBatch(contexts, { maxTokens, temperature, topP, rng, stopToken, incremental }),
      () =>
        `sampling ${batch} rows of up to ${longest + maxTokens} tokens (${batch * (longest + maxTokens)} padded tokens)`,
      'Sample in smaller batches: `turngym train --sample-batch-tokens` (default 65536), fewer rollouts a step, or a shorter --max-action-tokens or context.',
    );
  }

  /** `sample` for one batch that fits the memory budget. */
  private sampleBatch(
    contexts: readonly (readonly number[])[],
    settings: {
      maxTokens: number;
      temperature: number;
      topP: number;
      rng: Rng;
      stopToken: number;
      incremental: boolean;
    },
  ): Sample[] {
    const { maxTokens, temperature, topP, rng, stopToken, incremental } = settings;
    const pad = this.tokenizer.special('<|pad|>');
    const vocab = this.config.vocabSize;
    const results: Sample[] = contexts.map(() => ({
      tokens: [],
      logprobs: [],
      entropies: [],
      text: '',
      finished: false,
    }));
    const parts = this.decodingParts(contexts, pad, incremental);
    // The first row of each part, and one past the last row.
    const starts = parts.reduce((rows, part) => [...rows, rows.at(-1)! + part.rows], [0]);
    try {
      let next: number[] | undefined;
      for (let step = 0; step < maxTokens; step++) {
        // Every part starts its pass before any is awaited: the worker threads' parts run beside this thread's.
        for (let i = parts.length - 1; i >= 0; i--) parts[i]!.send(next?.slice(starts[i], starts[i + 1]));
        const values = concatenate(parts.map((part) => part.receive()));
        next = [];
        for (let b = 0; b < results.length; b++) {
          const result = results[b]!;
          if (result.finished) {
            next.push(pad);
            continue;
          }
          const drawn = drawToken(values.subarray(b * vocab, (b + 1) * vocab), temperature, topP, rng);
          result.tokens.push(drawn.token);
          result.logprobs.push(drawn.logprob);
          result.entropies.push(drawn.entropy);
          if (drawn.token === stopToken) result.finished = true;
          next.push(drawn.token);
        }
        if (results.every((result) => result.finished)) break;
      }
    } finally {
      for (const part of parts) part.dispose();
    }
    for (const result of results) {
      const body = result.finished ? result.tokens.slice(0, -1) : result.tokens;
      result.text = this.tokenizer.decode(body);
    }
    return results;
  }

  /** The rows of a batch split between this thread's decoder and the worker threads' (in row order). */
  private decodingParts(contexts: readonly (readonly number[])[], pad: number, incremental: boolean): DecodingPart[] {
    const threads = this.threads.forSampling(contexts.length);
    if (threads.length === 0) return [new Decoder(this.model, contexts, pad, incremental)];
    const share = Math.ceil(contexts.length / (threads.length + 1));
    const parts: DecodingPart[] = [new Decoder(this.model, contexts.slice(0, share), pad, incremental)];
    threads.forEach((thread, i) => {
      const rows = contexts.slice(share * (i + 1), share * (i + 2));
      if (rows.length > 0) parts.push(thread.decode(this.model, rows, pad, incremental));
    });
    return parts;
  }

  /**
   * Per-token log-probs of each forced `continuation` after its `context` (no gradient), in batches of at
   * most `maxBatchTokens` padded tokens (default 8192; one long sequence is its own batch), so that scoring
   * a whole rollout batch (information gain) does not hold every sequence's logits at once.
   */
  score(
    contexts: readonly (readonly number[])[],
    continuations: readonly (readonly number[])[],
    options: { temperature?: number; maxBatchTokens?: number } = {},
  ): number[][] {
    if (contexts.length !== continuations.length)
      throw new TurngymError(
        'INVALID_OPTIONS',
        `score: ${contexts.length} contexts but ${continuations.length} continuations.`,
      );
    const sequences = contexts.map((context, index) => {
      const continuation = continuations[index]!;
      if (context.length === 0)
        throw new TurngymError('INVALID_OPTIONS', 'score: every context needs at least one token.');
      return {
        tokens: [...context, ...continuation],
        targetMask: [...Array<number>(context.length).fill(0), ...Array<number>(continuation.length).fill(1)],
      };
    });
    return this.logprobValues(sequences, {
      temperature: options.temperature,
      maxBatchTokens: options.maxBatchTokens ?? 8192,
    }).map(({ logprobs }) => Array.from(logprobs));
  }

  /**
   * Differentiable log-probs and entropies of the target tokens of `sequences` (right-padded into one
   * batch). Use inside `computeGradients`/`update` (or tf.variableGrads) to build a loss; outside one,
   * wrap in tf.tidy.
   */
  tokenLogprobs(sequences: readonly ScoredSequence[], options: { temperature?: number } = {}): TokenLogprobs {
    this.lastPassTokens = sequences.length * Math.max(...sequences.map((sequence) => sequence.tokens.length));
    return outOfMemoryAsError(
      () => targetLogprobs(this.model, sequences, this.passSettings(options)),
      this.passSize,
      PASS_ADVICE,
    );
  }

  private passSettings(options: { temperature?: number }): { pad: number; temperature?: number } {
    return { pad: this.tokenizer.special('<|pad|>'), temperature: options.temperature };
  }

  /**
   * The passes of a batch of sequences of these lengths: their indices, longest first (so that a pass pads
   * little), cut into passes of at most `maxTokens` padded tokens (sequences x longest; one longer sequence is
   * a pass of its own) and, when there are worker threads, into at least one pass a thread.
   */
  passes(lengths: readonly number[], maxTokens: number): number[][] {
    const order = lengths.map((_, index) => index).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
    const total = lengths.reduce((sum, length) => sum + length, 0);
    const threads = this.threads.size;
    const budget = threads === 1 ? maxTokens : Math.min(maxTokens, Math.ceil(total / threads));
    return paddedBatches(order, budget, (index) => lengths[index]!);
  }

  /**
   * The values of `tokenLogprobs` for each sequence (no gradient): its target tokens' log-probs and entropies,
   * computed in the passes of {@link passes} (at most `maxBatchTokens` padded tokens each), shared between this
   * thread and the worker threads.
   */
  logprobValues(
    sequences: readonly ScoredSequence[],
    options: { temperature?: number; maxBatchTokens: number },
  ): { logprobs: Float32Array; entropies: Float32Array }[] {
    const passes = this.passes(
      sequences.map((sequence) => sequence.tokens.length),
      options.maxBatchTokens,
    );
    const settings = this.passSettings(options);
    const { values, keep } = valuesBySequence(sequences);
    this.shareOut(
      passes.map((pass) => pass.map((index) => sequences[index]!)),
      (parts) => ({ type: 'logprobs', parts, settings }),
      (part, k) =>
        tf.tidy(() => {
          const { logprobs, entropies } = this.tokenLogprobs(part, options);
          keep(passes[k]!, logprobs.dataSync() as Float32Array, entropies.dataSync() as Float32Array);
        }),
      (indices, reply) => indices.forEach((k, i) => keep(passes[k]!, reply.arrays![2 * i]!, reply.arrays![2 * i + 1]!)),
    );
    return values;
  }

  /**
   * The gradient (by variable name) of `objective` (a loss that is a sum of terms over target tokens, each a
   * function of its own token's log-prob and entropy: see {@link TokenObjective}) over the target tokens of every
   * sequence, computed in the passes of {@link passes}, shared between this thread and the worker threads, and
   * summed; with each sequence's log-probs and entropies as the passes computed them (for a loss's value and
   * metrics). The caller applies or disposes the tensors.
   */
  gradientOf(
    sequences: readonly ScoredSequence[],
    objective: TokenObjective,
    options: { temperature?: number; maxBatchTokens: number },
  ): { gradients: Record<string, tf.Tensor>; values: { logprobs: Float32Array; entropies: Float32Array }[] } {
    const passes = this.passes(
      sequences.map((sequence) => sequence.tokens.length),
      options.maxBatchTokens,
    );
    const settings = this.passSettings(options);
    const passInputs = passes.map((pass) => {
      const inputs: Record<string, Float32Array> = {};
      for (const name of Object.keys(objective.inputs[0] ?? {}))
        inputs[name] = concatenate(pass.map((index) => objective.inputs[index]![name]!));
      return inputs;
    });
    const sums: Record<string, tf.Tensor> = {};
    const { values, keep } = valuesBySequence(sequences);
    this.shareOut(
      passes.map((pass) => pass.map((index) => sequences[index]!)),
      (parts, indices) => ({
        type: 'gradients',
        parts,
        objective: {
          module: objective.module,
          inputs: indices.map((k) => passInputs[k]!),
          settings: objective.settings,
        },
        settings,
      }),
      (part, k) => {
        this.lastPassTokens = part.length * Math.max(...part.map((sequence) => sequence.tokens.length));
        const { gradients, logprobs, entropies } = outOfMemoryAsError(
          () => objectiveGradients(this.model, part, objective.evaluate, passInputs[k]!, objective.settings, settings),
          this.passSize,
          PASS_ADVICE,
        );
        addGradients(sums, gradients);
        keep(passes[k]!, logprobs, entropies);
      },
      (indices, reply) => {
        addGradients(sums, this.replyGradients(reply));
        indices.forEach((k, i) => keep(passes[k]!, reply.values![2 * i]!, reply.values![2 * i + 1]!));
      },
    );
    return { gradients: sums, values };
  }

  /**
   * The gradient (by variable name) of a loss that reads every target token of the batch at once (Clip-Cov's and
   * KL-Cov's selection over a mini-batch), in one forward and one backward pass a thread: each thread's forward
   * pass computes its part's log-probs and entropies, this thread gathers them, `derivative` gives the loss's
   * derivative with respect to each (by sequence, as `values` are), and each thread's backward pass, its forward
   * pass's tape kept meanwhile, takes its part's share of sum_i dL/dlogp_i * logp_i + dL/dH_i * H_i. Only when the
   * batch is at most one pass a thread ({@link passes}); `undefined` otherwise, or after a worker thread failed
   * (its work is then for `logprobValues` and `gradientOf`, on this thread). The caller applies or disposes the
   * tensors.
   */
  coupledGradientOf(
    sequences: readonly ScoredSequence[],
    derivative: (
      values: readonly { logprobs: Float32Array; entropies: Float32Array }[],
    ) => { logprobs: Float32Array; entropies?: Float32Array }[],
    options: { temperature?: number; maxBatchTokens: number },
  ): Record<string, tf.Tensor> | undefined {
    const lengths = sequences.map((sequence) => sequence.tokens.length);
    const workers = sequences.length > 1 ? this.threads.workers() : [];
    const passes = balancedPasses(lengths, workers.length + 1, options.maxBatchTokens);
    if (!passes) return undefined;
    const settings = this.passSettings(options);
    const part = (k: number) => passes[k]!.map((index) => sequences[index]!);
    const started: ReturnType<PolicyThread['startCoupled']>[] = [];
    const { values, keep } = valuesBySequence(sequences);
    const sums: Record<string, tf.Tensor> = {};
    let failure: unknown;
    try {
      passes.slice(1).forEach((_, w) => started.push(workers[w]!.startCoupled(this.model, part(w + 1), settings)));
      this.lastPassTokens = passes[0]!.length * Math.max(...part(0).map((sequence) => sequence.tokens.length));
      const { value, gradients } = outOfMemoryAsError(
        () =>
          modelGradients(this.model, () => {
            const own = targetLogprobs(this.model, part(0), settings);
            // A failure past this point ends the pass with a loss of zero instead of an exception, so that
            // tfjs frees the forward pass's saved tensors (it does not when the function throws).
            try {
              keep(passes[0]!, own.logprobs.dataSync() as Float32Array, own.entropies.dataSync() as Float32Array);
              started.forEach((pass, w) => keep(passes[w + 1]!, ...pass.values()));
              const derivatives = derivative(values);
              const ofPass = (k: number) => {
                const logprobs = concatenate(passes[k]!.map((index) => derivatives[index]!.logprobs));
                if (!derivatives[0]?.entropies) return { logprobs };
                return { logprobs, entropies: concatenate(passes[k]!.map((index) => derivatives[index]!.entropies!)) };
              };
              started.forEach((pass, w) => pass.send(ofPass(w + 1)));
              const mine = ofPass(0);
              const inputs: Record<string, tf.Tensor1D> = { logprobs: tf.tensor1d(mine.logprobs) };
              if (mine.entropies) inputs.entropies = tf.tensor1d(mine.entropies);
              return tokenObjective(own.logprobs, own.entropies, inputs, undefined);
            } catch (error) {
              failure = error;
              return tf.mul(tf.sum(own.logprobs), 0) as tf.Scalar;
            }
          }),
        this.passSize,
        PASS_ADVICE,
      );
      value.dispose();
      addGradients(sums, gradients);
      for (const pass of failure === undefined ? started : []) {
        const reply = outOfMemoryAsError(
          () => pass.gradients(),
          () => "in a policy thread's pass",
          PASS_ADVICE,
        );
        // A worker that waited too long for its derivative gave its pass up (and answered nothing).
        if (!reply.names)
          throw new TurngymError('ENV_FAILURE', "a policy thread gave up waiting for the loss's derivative");
        addGradients(sums, this.replyGradients(reply));
      }
    } catch (error) {
      failure ??= error;
    }
    for (const pass of started) pass.finish();
    if (failure === undefined) return sums;
    tf.dispose(Object.values(sums));
    if (failure instanceof TurngymError && failure.code === 'ENV_FAILURE') {
      console.error(`[policy] working on this thread only: ${failure.message}`);
      return undefined;
    }
    throw failure;
  }

  /**
   * Runs the parts of a pass: the worker threads' shares are sent first (largest parts first, to the least loaded
   * thread), then this thread runs its own with `here`, then each worker's reply is handed to `received`.
   */
  private shareOut(
    parts: readonly ScoredSequence[][],
    request: (
      parts: ScoredSequence[][],
      indices: number[],
    ) => Extract<WorkerRequest, { type: 'logprobs' | 'gradients' }>,
    here: (part: ScoredSequence[], index: number) => void,
    received: (indices: number[], reply: WorkerReply) => void,
  ): void {
    const workers = parts.length > 1 ? this.threads.workers() : [];
    const sizes = parts.map((part) => part.length * Math.max(...part.map((sequence) => sequence.tokens.length)));
    const [own, ...shares] = shareParts(sizes, workers.length + 1);
    const pending = shares.flatMap((indices, w) =>
      indices.length > 0
        ? [
            {
              indices,
              pass: workers[w]!.startPass(
                this.model,
                request(
                  indices.map((k) => parts[k]!),
                  indices,
                ),
              ),
            },
          ]
        : [],
    );
    let failure: unknown;
    try {
      for (const index of own!) here(parts[index]!, index);
    } catch (error) {
      failure = error;
    }
    // Every started pass is received, so that a worker's replies stay in step with its requests. A worker that
    // fails otherwise than by running out of memory (it died, or did not answer) is given up, and its share is
    // done here.
    for (const { indices, pass } of pending) {
      try {
        const reply = outOfMemoryAsError(
          () => pass.receive(),
          () => "in a policy thread's pass",
          PASS_ADVICE,
        );
        if (failure === undefined) received(indices, reply);
      } catch (error) {
        if (error instanceof TurngymError && error.code === 'ENV_FAILURE' && failure === undefined) {
          console.error(`[policy] working on this thread only: ${error.message}`);
          try {
            for (const index of indices) here(parts[index]!, index);
          } catch (local) {
            failure = local;
          }
        } else failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Where a training pass ran out of memory, for the error. */
  private passSize = (): string =>
    this.lastPassTokens === undefined
      ? 'in a training pass'
      : `on a pass of ${this.lastPassTokens} padded tokens (sequences x longest)`;

  /** Gradients of `loss` with respect to every variable (by name), and the loss value. */
  computeGradients(loss: () => tf.Scalar): { loss: number; gradients: Record<string, tf.Tensor> } {
    this.lastPassTokens = undefined;
    const { value, gradients } = outOfMemoryAsError(() => modelGradients(this.model, loss), this.passSize, PASS_ADVICE);
    const lossValue = value.dataSync()[0]!;
    value.dispose();
    return { loss: lossValue, gradients };
  }

  /** A worker's summed gradients (names and arrays) as tensors by variable name. */
  private replyGradients(reply: WorkerReply): Record<string, tf.Tensor> {
    const gradients: Record<string, tf.Tensor> = {};
    reply.names!.forEach((name, i) => {
      gradients[name] = tf.tensor(reply.arrays![i]!, this.model.variables.get(name)!.shape);
    });
    return gradients;
  }

  /** Applies gradients (by name) with the optimizer, disposes them, and returns the global norm before clipping. */
  applyGradients(gradients: Record<string, tf.Tensor>): number {
    try {
      return this.optimizer.apply(this.model.variables, gradients);
    } finally {
      tf.dispose(Object.values(gradients));
    }
  }

  /** One optimizer step on `loss`. */
  update(loss: () => tf.Scalar): { loss: number; gradNorm: number } {
    const { loss: value, gradients } = this.computeGradients(loss);
    const gradNorm = this.applyGradients(gradients);
    return { loss: value, gradNorm };
  }

  dispose(): void {
    this.threads.close();
    this.model.dispose();
    this.optimizer.dispose();
  }
}

/** Adds each gradient (by variable name) into `sums`, disposing what it replaces. */
function addGradients(sums: Record<string, tf.Tensor>, gradients: Record<string, tf.Tensor>): void {
  for (const [name, gradient] of Object.entries(gradients)) {
    const sum = sums[name];
    sums[name] = sum ? tf.add(sum, gradient) : gradient;
    if (sum) tf.dispose([sum, gradient]);
  }
}

/**
 * Each sequence's log-probs and entropies (`values`, by sequence index), filled by `keep` from the values of a
 * pass over the sequences `pass` (their target tokens in order).
 */
function valuesBySequence(sequences: readonly ScoredSequence[]) {
  const values: { logprobs: Float32Array; entropies: Float32Array }[] = [];
  const keep = (pass: readonly number[], logprobs: Float32Array, entropies: Float32Array) => {
    let position = 0;
    for (const index of pass) {
      const count = targetCount(sequences[index]!);
      values[index] = {
        logprobs: logprobs.subarray(position, position + count),
        entropies: entropies.subarray(position, position + count),
      };
      position += count;
    }
  };
  return { values, keep };
}

/** Draws a token from one row of logits; returns its log-prob and the entropy of the (tempered) distribution. */
function drawToken(
  logits: Float32Array,
  temperature: number,
  topP: number,
  rng: Rng,
): { token: number; logprob: number; entropy: number } {
  const scale = temperature > 0 ? 1 / temperature : 1;
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! > max) {
      max = logits[i]!;
      argmax = i;
    }
  }
  const probabilities = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = Math.exp((logits[i]! - max) * scale);
    probabilities[i] = p;
    total += p;
  }
  let entropy = 0;
  const logTotal = Math.log(total);
  for (let i = 0; i < logits.length; i++) {
    const p = probabilities[i]! / total;
    probabilities[i] = p;
    if (p > 0) entropy -= p * ((logits[i]! - max) * scale - logTotal);
  }
  let token = argmax;
  if (temperature > 0) {
    let candidates: number[];
    let mass = 1;
    if (topP < 1) {
      const order = Array.from({ length: logits.length }, (_, i) => i).sort(
        (a, b) => probabilities[b]! - probabilities[a]!,
      );
      candidates = [];
      mass = 0;
      for (const index of order) {
        candidates.push(index);
        mass += probabilities[index]!;
        if (mass >= topP) break;
      }
    } else {
      candidates = [];
    }
    const target = rng.float() * mass;
    let cumulative = 0;
    token = -1;
    const pool = topP < 1 ? candidates : undefined;
    const count = pool ? pool.length : logits.length;
    for (let k = 0; k < count; k++) {
      const index = pool ? pool[k]! : k;
      cumulative += probabilities[index]!;
      if (target < cumulative) {
        token = index;
        break;
      }
    }
    if (token < 0) token = pool ? pool[pool.length - 1]! : argmax; // rounding at the very top of the mass
  }
  return { token, logprob: (logits[token]! - max) * scale - logTotal, entropy };
}

/**
 * Runs `work`, turning the wasm backend's out-of-memory fault (a WebAssembly RuntimeError once the heap cannot
 * grow past 4 GB) into an `OUT_OF_MEMORY` error that says what to do. Which fault it is depends on what the
 * failed allocation's null result let a kernel overwrite: "memory access out of bounds" mostly, "table index is
 * out of bounds" where it overwrote a function pointer (a one-layer pass over 8 x 2,048 tokens: tested). The
 * backend is unusable afterwards in this process: the error says so.
 */
function outOfMemoryAsError<T>(work: () => T, where: () => string, advice: string): T {
  try {
    return work();
  } catch (error) {
    if (
      error instanceof TurngymError ||
      !(error instanceof Error) ||
      error.name !== 'RuntimeError' ||
      !/memory access out of bounds|table index is out of bounds|out of memory|OOM/i.test(error.message)
    )
      throw error;
    throw new TurngymError(
      'OUT_OF_MEMORY',
      `The policy ran out of WebAssembly memory ${where()} (the wasm backend's heap holds at most 4 GB, and attention needs sequences x heads x length^2 floats per layer). ${advice} TensorFlow.js cannot be used again in this process; continue a training run with --resume from its last checkpoint.`,
      { cause: error },
    );
  }
}

/** What to do when a training pass (forward and backward) does not fit. */
const PASS_ADVICE =
  'Use smaller passes: `turngym train --micro-batch-tokens` (default 4096), `turngym sft --batch-tokens`, or a shorter context.';
