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
  const { hidden } = model.forward({ tokens: tf.tensor2d(tokens, [batch, length], 'int32') });
  const selected = gatherRows(hidden, tf.tensor1d(rows, 'int32'));
  const tokensOf = sequences.map((sequence) => sequence.tokens);
  let logits = model.nextTokenLogits(
    selected,
    model.config.copy
      ? {
          keys: model.copyKeys(hidden, tokensOf, 0),
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
 * The gradient, with respect to every model variable (by name), of
 * sum_i logprobWeights_i * logp_i + entropyWeights_i * H_i over the target tokens of `sequences`: one part's share
 * of a loss whose derivative with respect to each token's log-prob (and entropy) is known (the chain rule). The
 * caller disposes the tensors.
 */
export function weightedGradients(
  model: TransformerModel,
  sequences: readonly ScoredSequence[],
  weights: { logprobs: Float32Array; entropies?: Float32Array },
  options: { pad: number; temperature?: number },
): Record<string, tf.Tensor> {
  const names = [...model.variables.keys()];
  const variables = names.map((name) => model.variables.get(name)!);
  const { value, grads } = tf.variableGrads(() => {
    const { logprobs, entropies } = targetLogprobs(model, sequences, options);
    const surrogate = tf.sum(tf.mul(logprobs, tf.tensor1d(weights.logprobs)));
    return (
      weights.entropies ? tf.add(surrogate, tf.sum(tf.mul(entropies, tf.tensor1d(weights.entropies)))) : surrogate
    ) as tf.Scalar;
  }, variables);
  value.dispose();
  const gradients: Record<string, tf.Tensor> = {};
  names.forEach((name, index) => {
    const gradient = grads[variables[index]!.name];
    if (gradient) gradients[name] = gradient;
  });
  return gradients;
}
