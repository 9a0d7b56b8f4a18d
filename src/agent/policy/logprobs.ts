/**
 * The log-probs and entropies of chosen tokens under a model, differentiable: what training losses, scoring and
 * the reference policy's KL read. `Policy.tokenLogprobs` and the policy's worker threads (policy-worker.ts) both
 * run `targetLogprobs`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TurngymError } from '../../core/errors.js';
import type { TransformerModel } from './model.js';
import { gatherRows } from './ops.js';

/** A sequence whose tokens at `targetMask[t] === 1` (t >= 1) are scored given the tokens before them. */
export interface ScoredSequence {
  tokens: readonly number[];
  targetMask: readonly number[];
}

/** The number of target tokens of a sequence (its targets after the first token). */
export function targetCount(sequence: ScoredSequence): number {
  let count = 0;
  for (let t = 1; t < sequence.tokens.length; t++) if (sequence.targetMask[t] === 1) count++;
  return count;
}

/** The arrays one after another, in one array (the array itself when there is one). */
export function concatenate(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const all = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

/** Differentiable per-token results, concatenated over sequences in order (only the target tokens). */
export interface TokenLogprobs {
  logprobs: tf.Tensor1D;
  entropies: tf.Tensor1D;
  /** Number of target tokens of each sequence. */
  counts: number[];
}

/**
 * Log-probs and entropies of the target tokens of `sequences` (right-padded with `pad` into one batch) under
 * softmax(logits / temperature) (temperature 0 or absent: 1). Call inside `tf.tidy` or a gradient function.
 */
export function targetLogprobs(
  model: TransformerModel,
  sequences: readonly ScoredSequence[],
  options: { pad: number; temperature?: number },
): TokenLogprobs {
  const temperature = options.temperature && options.temperature > 0 ? options.temperature : 1;
  const batch = sequences.length;
  const length = Math.max(...sequences.map((sequence) => sequence.tokens.length));
  if (length > model.config.contextLength) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `tokenLogprobs: a sequence of ${length} tokens exceeds the context length ${model.config.contextLength}.`,
    );
  }
  const tokens = new Int32Array(batch * length).fill(options.pad);
  const rows: number[] = [];
  const targets: number[] = [];
  const counts: number[] = [];
  sequences.forEach((sequence, b) => {
    if (sequence.targetMask.length !== sequence.tokens.length)
      throw new TurngymError('INVALID_OPTIONS', 'tokenLogprobs: targetMask must have one entry per token.');
    tokens.set(sequence.tokens, b * length);
    let count = 0;
    for (let t = 1; t < sequence.tokens.length; t++) {
      if (sequence.targetMask[t] !== 1) continue;
      rows.push(b * length + t - 1);
      targets.push(sequence.tokens[t]!);
      count++;
    }
    counts.push(count);
  });
  if (rows.length === 0)
    throw new TurngymError(
      'INVALID_OPTIONS',
      'tokenLogprobs: no target tokens (targetMask is all zero after the first token).',
    );
  const input = tf.tensor2d(tokens, [batch, length], 'int32');
  let hidden: tf.Tensor2D;
  let selected: tf.Tensor2D;
  if (model.config.copy) {
    // The copy head's keys read every position's final state.
    hidden = model.forward({ tokens: input }).hidden;
    selected = gatherRows(hidden, tf.tensor1d(rows, 'int32'));
  } else {
    // Only the targets' rows: the last block runs on them alone.
    const columns = sequences.map(() => [] as number[]);
    for (const row of rows) columns[Math.floor(row / length)]!.push(row % length);
    hidden = model.forward({ tokens: input, columns }).hidden;
    const perSequence = Math.max(...counts);
    selected = counts.every((count) => count === perSequence)
      ? hidden
      : gatherRows(
          hidden,
          tf.tensor1d(
            counts.flatMap((count, b) => Array.from({ length: count }, (_, q) => b * perSequence + q)),
            'int32',
          ),
        );
  }
  const tokensOf = sequences.map((sequence) => sequence.tokens);
  let logits = model.nextTokenLogits(
    selected,
    model.config.copy
      ? {
          ...model.copyKeyParts(hidden, tokensOf),
          tokens: tokensOf,
          rowSequence: rows.map((row) => Math.floor(row / length)),
          rowLimit: rows.map((row) => row % length),
        }
      : undefined,
  );
  if (temperature !== 1) logits = tf.div(logits, temperature);
  const logp = tf.logSoftmax(logits);
  const picked = tf.sum(
    tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), model.config.vocabSize)),
    1,
  ) as tf.Tensor1D;
  const entropies = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1)) as tf.Tensor1D;
  return { logprobs: picked, entropies, counts };
}

/**
 * A loss that is a sum over target tokens of terms each of which depends on its own token's log-prob and entropy
 * only (and on constants of that token). Passes over parts of a batch then give parts of its gradient that sum to
 * the whole gradient, on any thread, without a pass to read every token's log-prob first.
 *
 * `evaluate(logprobs, entropies, inputs, settings)` is the loss's share of one part, whose target tokens (in
 * order) are `logprobs`, `entropies` and the same slices of each named per-token constant in `inputs`. Worker
 * threads cannot take a function: they import `module` (a URL) and call its export `tokenObjective`, which must
 * be `evaluate`. So a layer above the policy (the trainer's loss) can hand the policy its loss without the
 * policy importing it.
 */
export interface TokenObjective {
  /** URL of the module whose export `tokenObjective` is `evaluate`. */
  module: string;
  evaluate: TokenObjectiveFunction;
  /** Per sequence, its per-token constants by name (one value a target token). */
  inputs: readonly Readonly<Record<string, Float32Array>>[];
  /** Passed to `evaluate` as it is (structured-cloneable: worker threads receive a copy). */
  settings?: unknown;
}

export type TokenObjectiveFunction = (
  logprobs: tf.Tensor1D,
  entropies: tf.Tensor1D,
  inputs: Record<string, tf.Tensor1D>,
  settings: unknown,
) => tf.Scalar;

/**
 * sum_i inputs.logprobs_i * logp_i + inputs.entropies_i * H_i (`entropies` may be left out): the objective whose
 * gradient is a loss's gradient when the inputs are the loss's derivatives with respect to each token's log-prob
 * and entropy (the chain rule), and behaviour cloning's when they are -1 / tokens.
 */
export const tokenObjective: TokenObjectiveFunction = (logprobs, entropies, inputs) => {
  const surrogate = tf.sum(tf.mul(logprobs, inputs.logprobs!));
  return (inputs.entropies ? tf.add(surrogate, tf.sum(tf.mul(entropies, inputs.entropies))) : surrogate) as tf.Scalar;
};

/** The linear objective of {@link tokenObjective}: each sequence's weights of its tokens' log-probs (and entropies). */
export function linearObjective(
  weights: readonly { logprobs: Float32Array; entropies?: Float32Array }[],
): TokenObjective {
  return {
    module: import.meta.url,
    evaluate: tokenObjective,
    inputs: weights.map(({ logprobs, entropies }): Record<string, Float32Array> =>
      entropies ? { logprobs, entropies } : { logprobs },
    ),
  };
}

/**
 * The gradient, with respect to every model variable (by name), of `evaluate` over the target tokens of
 * `sequences` (one pass; `inputs` holds each per-token constant for those tokens, in order), with the log-probs
 * and entropies the pass computed. The caller disposes the tensors.
 */
export function objectiveGradients(
  model: TransformerModel,
  sequences: readonly ScoredSequence[],
  evaluate: TokenObjectiveFunction,
  inputs: Readonly<Record<string, Float32Array>>,
  settings: unknown,
  options: { pad: number; temperature?: number },
): { gradients: Record<string, tf.Tensor>; logprobs: Float32Array; entropies: Float32Array } {
  let logprobValues = new Float32Array(0);
  let entropyValues = new Float32Array(0);
  const { value, gradients } = modelGradients(model, () => {
    const { logprobs, entropies } = targetLogprobs(model, sequences, options);
    logprobValues = (logprobs.dataSync() as Float32Array).slice();
    entropyValues = (entropies.dataSync() as Float32Array).slice();
    const constants: Record<string, tf.Tensor1D> = {};
    for (const [name, values] of Object.entries(inputs)) constants[name] = tf.tensor1d(values);
    return evaluate(logprobs, entropies, constants, settings);
  });
  value.dispose();
  return { gradients, logprobs: logprobValues, entropies: entropyValues };
}

/**
 * tf.variableGrads of `loss` over the model's variables: the loss (a tensor the caller disposes) and the gradient
 * of each variable that has one, by the variable's name in the model.
 */
export function modelGradients(
  model: TransformerModel,
  loss: () => tf.Scalar,
): { value: tf.Scalar; gradients: Record<string, tf.Tensor> } {
  const names = [...model.variables.keys()];
  const variables = names.map((name) => model.variables.get(name)!);
  const { value, grads } = tf.variableGrads(loss, variables);
  const gradients: Record<string, tf.Tensor> = {};
  names.forEach((name, index) => {
    const gradient = grads[variables[index]!.name];
    if (gradient) gradients[name] = gradient;
  });
  return { value, gradients };
}
