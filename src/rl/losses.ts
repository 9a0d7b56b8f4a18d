/**
 * The policy loss: token-level PPO-clip with covariance-based entropy control, as verl defines it
 * (core_algos.py: `compute_policy_loss`, `clip_cov`, `kl_cov`), written as a pure function of tensors so
 * the formulas can be checked on hand-computed cases.
 *
 * All inputs are flat over the tokens of a mini-batch ([N]); `weights` is 0 where a token carries no loss
 * (prompt, observation and padding tokens) and positive on action tokens, the valid ones. The loss is the
 * weighted mean sum_i w_i L_i / sum_i w_i: with every weight 1 it is verl's `token-mean` aggregation; with
 * w_i = 1 / (action tokens of i's trajectory) each trajectory weighs the same however long it is (verl's
 * `seq-mean-token-mean`, a trajectory being the sequence).
 *
 *   ratio_i = exp(logp_i - logp_old_i)
 *   cov_i   = (A_i - mean A)(logp_i - mean logp)         (means over valid tokens; logp detached)
 *
 * - `none`:     L_i = max(-A r, -A clip(r, 1-eps_low, 1+eps_high))
 * - `bonus`:    the same, minus `entropyCoef` times the mean token entropy
 * - `clip-cov`: the same PPO term; among valid tokens that PPO did not already clip and with
 *               lb < cov_i < ub, a random subset of max(1, int(ratio * N)) gets its gradient zeroed
 * - `kl-cov`:   L_i = -A r for all tokens (no ratio clipping), except the top max(1, int(ratio * N)) tokens
 *               by cov_i, which get -A r + coef |logp - logp_old|
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { TurngymError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

export const lossConfigSchema = z.object({
  clipLow: z.number().min(0).default(0.2).describe('PPO clip range below 1 (ratio >= 1 - clipLow)'),
  clipHigh: z
    .number()
    .min(0)
    .default(0.28)
    .describe('PPO clip range above 1 (ratio <= 1 + clipHigh; DAPO clip-higher)'),
  entropyControl: z
    .enum(['none', 'bonus', 'clip-cov', 'kl-cov'])
    .default('clip-cov')
    .describe('Entropy control method'),
  entropyCoef: z.number().min(0).default(0.001).describe('Entropy bonus coefficient (entropyControl = bonus)'),
  clipCovRatio: z
    .number()
    .min(0)
    .max(1)
    .default(2e-4)
    .describe('Clip-Cov: fraction of valid tokens whose gradient is zeroed (at least 1)'),
  clipCovLb: z.number().default(1).describe('Clip-Cov: lower covariance bound of candidate tokens'),
  clipCovUb: z.number().default(5).describe('Clip-Cov: upper covariance bound of candidate tokens'),
  klCovRatio: z
    .number()
    .min(0)
    .max(1)
    .default(2e-4)
    .describe('KL-Cov: fraction of valid tokens (top by covariance) that get the KL penalty (at least 1)'),
  klCovCoef: z.number().min(0).default(0.1).describe('KL-Cov: coefficient of |logp - logp_old| on the selected tokens'),
  klCoef: z
    .number()
    .min(0)
    .default(0)
    .describe(
      'Coefficient of a KL penalty to the reference policy (the starting one: --init or the warm start) on every action token, k3 estimator (verl low_var_kl); 0: off',
    ),
  lossAggregation: z
    .enum(['token-mean', 'trajectory-mean'])
    .default('token-mean')
    .describe(
      'How token losses are averaged: token-mean (every action token weighs the same; verl token-mean) or trajectory-mean (each trajectory weighs the same however many tokens it has; verl seq-mean-token-mean)',
    ),
});
export type LossConfig = z.output<typeof lossConfigSchema>;

export interface LossInputs {
  /** Log-probs of the taken tokens under the current policy (differentiable), [N]. */
  logprobs: tf.Tensor1D;
  /** Log-probs when the tokens were sampled, [N]. */
  oldLogprobs: tf.Tensor1D;
  /** Per-token advantages, [N]. */
  advantages: tf.Tensor1D;
  /** Loss weight of each token: positive on action tokens, 0 otherwise (1 everywhere valid is token-mean), [N]. */
  weights: tf.Tensor1D;
  /** Per-token entropies under the current policy (differentiable); needed for `bonus`. [N] */
  entropies?: tf.Tensor1D;
  /** Log-probs of the taken tokens under the reference policy, [N]; needed when `klCoef` > 0. */
  refLogprobs?: tf.Tensor1D;
}

export interface LossMetrics {
  /** Fraction of valid tokens whose PPO term is clipped (or, for Clip-Cov, whose gradient was zeroed). */
  pg_clipfrac: number;
  /** Mean of logp_old - logp over valid tokens (for KL-Cov: of |logp - logp_old|). */
  ppo_kl: number;
  /** Mean and max covariance over valid tokens. */
  cov_mean: number;
  cov_max: number;
  /** Mean k3 estimate of KL(policy || reference) over valid tokens (0 without a reference). */
  kl_ref: number;
  /** Number of tokens selected by Clip-Cov / KL-Cov. */
  selected: number;
  valid_tokens: number;
}

export interface LossOutput {
  loss: tf.Scalar;
  /** Indices (into the flat token axis) that Clip-Cov zeroed or KL-Cov penalised. */
  selected: number[];
  metrics: LossMetrics;
}

/**
 * Computes the policy loss. Call it inside `tf.variableGrads`/`optimizer.minimize` to differentiate
 * through `inputs.logprobs` (and `inputs.entropies`). `rng` draws Clip-Cov's random subset.
 */
export function policyLoss(inputs: LossInputs, config: LossConfig, rng: Rng): LossOutput {
  const logp = inputs.logprobs.dataSync();
  const old = inputs.oldLogprobs.dataSync();
  const advantages = inputs.advantages.dataSync();
  const weights = inputs.weights.dataSync();
  const n = weights.length;
  if (config.klCoef > 0 && !inputs.refLogprobs)
    throw new TurngymError(
      'INVALID_OPTIONS',
      "policyLoss: klCoef > 0 needs refLogprobs (the reference policy's log-probs).",
    );
  const reference = config.klCoef > 0 ? inputs.refLogprobs!.dataSync() : undefined;
  const valid: number[] = [];
  for (let i = 0; i < n; i++) if (weights[i]! > 0) valid.push(i);
  const validCount = Math.max(valid.length, 1);
  const normaliser = lossNormaliser(weights);

  // Covariance of advantage and (detached) log-prob over valid tokens.
  const meanAdvantage = valid.reduce((sum, i) => sum + advantages[i]!, 0) / validCount;
  const meanLogp = valid.reduce((sum, i) => sum + logp[i]!, 0) / validCount;
  const cov = new Float64Array(n);
  for (const i of valid) cov[i] = (advantages[i]! - meanAdvantage) * (logp[i]! - meanLogp);

  // Which tokens PPO clips: pg_losses2 > pg_losses1.
  const clippedByPpo = new Uint8Array(n);
  for (const i of valid) {
    const ratio = Math.exp(logp[i]! - old[i]!);
    const unclipped = -advantages[i]! * ratio;
    const clipped = -advantages[i]! * Math.min(Math.max(ratio, 1 - config.clipLow), 1 + config.clipHigh);
    if (clipped > unclipped) clippedByPpo[i] = 1;
  }

  let selected: number[] = [];
  if (config.entropyControl === 'clip-cov') {
    const candidates = valid.filter(
      (i) => !clippedByPpo[i] && cov[i]! > config.clipCovLb && cov[i]! < config.clipCovUb,
    );
    const count = Math.max(1, Math.floor(config.clipCovRatio * valid.length));
    selected = rng.shuffle(candidates).slice(0, Math.min(count, candidates.length));
  } else if (config.entropyControl === 'kl-cov' && valid.length > 0) {
    const count = Math.max(1, Math.floor(config.klCovRatio * valid.length));
    selected = [...valid].sort((a, b) => cov[b]! - cov[a]! || a - b).slice(0, count);
  }
  selected.sort((a, b) => a - b);

  const selectedMask = new Float32Array(n);
  for (const i of selected) selectedMask[i] = 1;

  const loss = weightedLoss(inputs, config, selectedMask, normaliser);

  let clipFraction: number;
  let ppoKl: number;
  if (config.entropyControl === 'clip-cov') {
    clipFraction = selected.length / validCount;
  } else if (config.entropyControl === 'kl-cov') {
    clipFraction = 0;
  } else {
    clipFraction = valid.reduce((sum, i) => sum + clippedByPpo[i]!, 0) / validCount;
  }
  if (config.entropyControl === 'kl-cov')
    ppoKl = valid.reduce((sum, i) => sum + Math.abs(logp[i]! - old[i]!), 0) / validCount;
  else ppoKl = valid.reduce((sum, i) => sum + (old[i]! - logp[i]!), 0) / validCount;

  const covValues = valid.map((i) => cov[i]!);
  const klRef = reference ? valid.reduce((sum, i) => sum + k3(logp[i]!, reference[i]!), 0) / validCount : 0;
  return {
    loss,
    selected,
    metrics: {
      pg_clipfrac: clipFraction,
      ppo_kl: ppoKl,
      cov_mean: covValues.length ? covValues.reduce((a, b) => a + b, 0) / covValues.length : 0,
      cov_max: covValues.length ? Math.max(...covValues) : 0,
      kl_ref: klRef,
      selected: selected.length,
      valid_tokens: valid.length,
    },
  };
}

/** What the weighted token losses are divided by: the sum of the positive weights (1 when there are none). */
export function lossNormaliser(weights: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += Math.max(0, weights[i]!);
  return sum > 0 ? sum : 1;
}

/**
 * sum_i w_i L_i / normaliser (minus the entropy bonus), the loss of the header, for the tokens of `inputs`;
 * `selectedMask` marks the tokens Clip-Cov zeroes or KL-Cov penalises (none when absent).
 */
function weightedLoss(
  inputs: LossInputs,
  config: LossConfig,
  selectedMask: Float32Array | undefined,
  normaliser: number,
): tf.Scalar {
  return tf.tidy(() => {
    const ratio = tf.exp(tf.sub(inputs.logprobs, inputs.oldLogprobs));
    const negativeAdvantages = tf.neg(inputs.advantages);
    const unclipped = tf.mul(negativeAdvantages, ratio);
    let perToken: tf.Tensor;
    if (config.entropyControl === 'kl-cov') {
      perToken = unclipped;
      if (selectedMask) {
        const absKl = tf.abs(tf.sub(inputs.logprobs, inputs.oldLogprobs));
        perToken = tf.add(perToken, tf.mul(tf.tensor1d(selectedMask), tf.mul(config.klCovCoef, absKl)));
      }
    } else {
      const clippedRatio = tf.clipByValue(ratio, 1 - config.clipLow, 1 + config.clipHigh);
      perToken = tf.maximum(unclipped, tf.mul(negativeAdvantages, clippedRatio));
      if (config.entropyControl === 'clip-cov' && selectedMask)
        perToken = tf.mul(perToken, tf.sub(1, tf.tensor1d(selectedMask)));
    }
    if (config.klCoef > 0)
      perToken = tf.add(
        perToken,
        tf.mul(config.klCoef, lowVarianceKl(inputs.logprobs, inputs.refLogprobs!)),
      ) as tf.Tensor1D;
    let total = tf.div(tf.sum(tf.mul(perToken, inputs.weights)), normaliser);
    if (config.entropyControl === 'bonus' && inputs.entropies) {
      total = tf.sub(
        total,
        tf.mul(config.entropyCoef, tf.div(tf.sum(tf.mul(inputs.entropies, inputs.weights)), normaliser)),
      );
    }
    return total as tf.Scalar;
  });
}

/** Whether the loss is a sum of per-token terms, each of its own token's log-prob and entropy (no Clip-Cov or KL-Cov selection over the batch). */
export function isSeparable(config: LossConfig): boolean {
  return config.entropyControl === 'none' || config.entropyControl === 'bonus';
}

/** Settings of {@link tokenObjective}: the loss's configuration and the whole mini-batch's normaliser. */
export interface TokenObjectiveSettings {
  config: LossConfig;
  normaliser: number;
}

/**
 * The policy loss as a token objective (`TokenObjective` of the policy layer: worker threads import this module
 * and call this export), for a separable configuration: a part's share of the mini-batch's loss, from its tokens'
 * log-probs and entropies and the per-token inputs `oldLogprobs`, `advantages`, `weights` (and `refLogprobs` with
 * a KL penalty), divided by the whole mini-batch's normaliser, so that the parts' shares sum to the loss.
 */
export function tokenObjective(
  logprobs: tf.Tensor1D,
  entropies: tf.Tensor1D,
  inputs: Record<string, tf.Tensor1D>,
  settings: unknown,
): tf.Scalar {
  const { config, normaliser } = settings as TokenObjectiveSettings;
  if (!isSeparable(config))
    throw new TurngymError('INVALID_OPTIONS', `tokenObjective: ${config.entropyControl} is not a sum over tokens.`);
  return weightedLoss(
    {
      logprobs,
      entropies,
      oldLogprobs: inputs.oldLogprobs!,
      advantages: inputs.advantages!,
      weights: inputs.weights!,
      refLogprobs: inputs.refLogprobs,
    },
    config,
    undefined,
    normaliser,
  );
}

/** k3 (verl `low_var_kl`) per token, differentiable in `logprobs`. */
function lowVarianceKl(logprobs: tf.Tensor1D, refLogprobs: tf.Tensor1D): tf.Tensor1D {
  const difference = tf.sub(refLogprobs, logprobs);
  return tf.clipByValue(tf.sub(tf.sub(tf.exp(difference), difference), 1), -10, 10) as tf.Tensor1D;
}

/** k3 of one token, for the metric. */
function k3(logprob: number, refLogprob: number): number {
  const difference = refLogprob - logprob;
  return Math.min(10, Math.max(-10, Math.exp(difference) - difference - 1));
}
