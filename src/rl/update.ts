/**
 * The update of one training step: `trainingExamples` makes the trajectories and their advantages into
 * training sequences, and `runUpdates` makes `epochs` passes over them in `miniBatches` shuffled
 * mini-batches, one optimizer step each, with the policy loss of losses.ts.
 *
 * A mini-batch is not always run in one pass. One larger than `microBatchTokens` (sequences x longest sequence,
 * the size of the padded batch the transformer sees) would exhaust the WebAssembly heap (the attention scores
 * alone are sequences x heads x length^2 floats), and with worker threads (policy-threads.ts) the passes are
 * shared between the cores: `Policy.passes` cuts it into micro-batches, longest sequences first, at least one a
 * thread. Its gradient is accumulated over them, and it is the same gradient. The loss depends on the weights
 * only through each target token's log-prob (and entropy), so
 *
 *   1. a forward pass per micro-batch, without gradients, gives every token's current log-prob and entropy;
 *   2. the loss of the whole mini-batch is computed from those values (the same token mean, the same
 *      Clip-Cov / KL-Cov selection over all its tokens), with dL/dlogp_i and dL/dH_i;
 *   3. a forward and backward pass per micro-batch of sum_i dL/dlogp_i * logp_i + dL/dH_i * H_i gives that
 *      micro-batch's share of dL/dweights (the chain rule), summed into one gradient.
 *
 * On two threads that is half of 1 and 3 each: a third less time than one forward and backward pass of the
 * mini-batch on one thread, which is what a mini-batch that fits, on one thread, runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Policy } from '../agent/policy/policy.js';
import type { ScoredSequence } from '../agent/policy/logprobs.js';
import { groupIndices, isZeroAdvantage } from './advantages.js';
import { type LossConfig, type LossMetrics, policyLoss } from './losses.js';
import type { Trajectory } from './rollout.js';

/** One training sequence with the old log-prob and the advantage of each of its target tokens, in order. */
export interface Example {
  sequence: ScoredSequence;
  oldLogprobs: number[];
  advantages: number[];
  /** Log-prob of each target token under the reference policy (set by `addReferenceLogprobs` for a KL penalty). */
  refLogprobs?: number[];
  /** Target tokens of the whole trajectory this sequence comes from (a trajectory may be several sequences). */
  trajectoryTokens: number;
  /** The group (task) of that trajectory. */
  group: number;
}

/**
 * Training sequences. When every turn's context is a prefix of the next one (no turn was dropped to fit the
 * context), a trajectory is one sequence whose targets are all its action tokens: one forward pass instead of
 * one per turn, with exactly the same log-probs. Otherwise each turn is its own sequence. Turns with zero
 * advantage carry no policy gradient and are left out, unless `keepZeroAdvantage` (a KL penalty to the
 * reference acts on every action token, including those of groups whose rewards were all equal).
 */
export function trainingExamples(
  trajectories: readonly Trajectory[],
  advantages: readonly number[][],
  options: { keepZeroAdvantage?: boolean } = {},
): Example[] {
  const examples: Example[] = [];
  const kept = (advantage: number) => options.keepZeroAdvantage === true || !isZeroAdvantage(advantage);
  trajectories.forEach((trajectory, i) => {
    const turns = trajectory.turns
      .map((turn, t) => ({ turn, advantage: advantages[i]![t]! }))
      .filter(({ turn, advantage }) => kept(advantage) && turn.tokens.length > 0);
    if (turns.length === 0) return;
    const trajectoryTokens = turns.reduce((sum, { turn }) => sum + turn.tokens.length, 0);
    if (isPrefixChain(trajectory)) {
      const last = trajectory.turns[trajectory.turns.length - 1]!;
      const tokens = [...last.context, ...last.tokens];
      const targetMask = tokens.map(() => 0);
      const oldLogprobs: number[] = [];
      const tokenAdvantages: number[] = [];
      for (const { turn, advantage } of turns) {
        turn.tokens.forEach((_, k) => {
          targetMask[turn.context.length + k] = 1;
        });
        oldLogprobs.push(...turn.logprobs);
        tokenAdvantages.push(...turn.tokens.map(() => advantage));
      }
      examples.push({
        sequence: { tokens, targetMask },
        oldLogprobs,
        advantages: tokenAdvantages,
        trajectoryTokens,
        group: trajectory.group,
      });
      return;
    }
    for (const { turn, advantage } of turns) {
      examples.push({
        sequence: {
          tokens: [...turn.context, ...turn.tokens],
          targetMask: [...turn.context.map(() => 0), ...turn.tokens.map(() => 1)],
        },
        oldLogprobs: turn.logprobs,
        advantages: turn.tokens.map(() => advantage),
        trajectoryTokens,
        group: trajectory.group,
      });
    }
  });
  return examples;
}

/** True when each turn's context followed by its action tokens is a prefix of the next turn's context. */
function isPrefixChain(trajectory: Trajectory): boolean {
  for (let t = 0; t + 1 < trajectory.turns.length; t++) {
    const turn = trajectory.turns[t]!;
    const next = trajectory.turns[t + 1]!.context;
    const head = [...turn.context, ...turn.tokens];
    if (next.length < head.length) return false;
    for (let k = 0; k < head.length; k++) if (next[k] !== head[k]) return false;
  }
  return true;
}

/** What `runUpdates` shuffles into mini-batches: single sequences, or whole groups. */
export const MINI_BATCH_UNITS = ['play', 'group'] as const;
export type MiniBatchUnit = (typeof MINI_BATCH_UNITS)[number];

export interface UpdateOptions {
  epochs: number;
  miniBatches: number;
  /**
   * 'play': each epoch shuffles the sequences across groups; 'group': it shuffles the groups and a group's
   * sequences share a mini-batch, so a group's advantages (zero-sum under GRPO) are zero-sum in each update.
   */
  miniBatchBy?: MiniBatchUnit;
  /** Sampling temperature of the rollouts (log-probs are those of the same softmax). */
  temperature: number;
  /** Most padded tokens (sequences x longest sequence) in one pass through the transformer. */
  microBatchTokens: number;
}

export interface UpdateSummary {
  losses: number[];
  gradNorms: number[];
  nonFinite: number;
  metrics: LossMetrics[];
  tokens: number;
}

/** Runs the update; a mini-batch whose loss is not finite is skipped (counted in `nonFinite`, logged). */
export function runUpdates(
  policy: Policy,
  examples: readonly Example[],
  options: UpdateOptions,
  lossConfig: LossConfig,
  rng: Rng,
  log: (line: string) => void,
): UpdateSummary {
  const summary: UpdateSummary = { losses: [], gradNorms: [], nonFinite: 0, metrics: [], tokens: 0 };
  if (examples.length === 0) return summary;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (const miniBatch of shuffledMiniBatches(examples, options, rng)) {
      const { loss, gradients, metrics } = miniBatchGradients(policy, miniBatch, options, lossConfig, rng);
      summary.tokens += metrics.valid_tokens;
      if (!Number.isFinite(loss)) {
        tf.dispose(Object.values(gradients));
        summary.nonFinite++;
        log(`[train] skipped an update: the loss is ${loss}`);
        continue;
      }
      summary.gradNorms.push(policy.applyGradients(gradients));
      summary.losses.push(loss);
      summary.metrics.push(metrics);
    }
  }
  return summary;
}

/**
 * One epoch's mini-batches: the units (sequences, or groups of sequences) shuffled and cut into
 * `miniBatches` runs of equal count (the last may be shorter).
 */
export function shuffledMiniBatches(
  examples: readonly Example[],
  options: Pick<UpdateOptions, 'miniBatches' | 'miniBatchBy'>,
  rng: Rng,
): Example[][] {
  const units =
    options.miniBatchBy === 'group'
      ? groupIndices(examples).map((members) => members.map((index) => examples[index]!))
      : examples.map((example) => [example]);
  const order = rng.shuffle(units);
  const size = Math.ceil(order.length / Math.min(options.miniBatches, order.length));
  const batches: Example[][] = [];
  for (let start = 0; start < order.length; start += size) batches.push(order.slice(start, start + size).flat());
  return batches;
}

/**
 * Scores every example's target tokens under the reference policy (at the rollout temperature, like the
 * old log-probs), in passes of at most `microBatchTokens` padded tokens, into `example.refLogprobs`.
 */
export function addReferenceLogprobs(
  reference: Policy,
  examples: readonly Example[],
  options: Pick<UpdateOptions, 'temperature' | 'microBatchTokens'>,
): void {
  const values = reference.logprobValues(
    examples.map((example) => example.sequence),
    { temperature: options.temperature, maxBatchTokens: options.microBatchTokens },
  );
  examples.forEach((example, index) => {
    example.refLogprobs = Array.from(values[index]!.logprobs);
  });
}

/** The loss weight of each of an example's target tokens under the configured aggregation. */
function tokenWeights(example: Example, config: LossConfig): number[] {
  const weight = config.lossAggregation === 'trajectory-mean' ? 1 / Math.max(1, example.trajectoryTokens) : 1;
  return example.oldLogprobs.map(() => weight);
}

/**
 * The loss of one mini-batch and its gradient with respect to every policy variable (by name), computed in
 * as many passes as `microBatchTokens` needs. The caller applies or disposes the gradients.
 */
export function miniBatchGradients(
  policy: Policy,
  miniBatch: readonly Example[],
  options: Pick<UpdateOptions, 'temperature' | 'microBatchTokens'>,
  lossConfig: LossConfig,
  rng: Rng,
): { loss: number; gradients: Record<string, tf.Tensor>; metrics: LossMetrics } {
  const temperature = options.temperature;
  const lossOf = (logprobs: tf.Tensor1D, entropies: tf.Tensor1D) =>
    policyLoss(
      {
        logprobs,
        entropies,
        oldLogprobs: tf.tensor1d(miniBatch.flatMap((example) => example.oldLogprobs)),
        advantages: tf.tensor1d(miniBatch.flatMap((example) => example.advantages)),
        weights: tf.tensor1d(miniBatch.flatMap((example) => tokenWeights(example, lossConfig))),
        refLogprobs:
          lossConfig.klCoef > 0 ? tf.tensor1d(miniBatch.flatMap((example) => example.refLogprobs ?? [])) : undefined,
      },
      lossConfig,
      rng,
    );
  const sequences = miniBatch.map((example) => example.sequence);
  const passOptions = { temperature, maxBatchTokens: options.microBatchTokens };
  let metrics: LossMetrics | undefined;

  if (
    policy.passes(
      sequences.map((sequence) => sequence.tokens.length),
      options.microBatchTokens,
    ).length === 1
  ) {
    const { loss, gradients } = policy.computeGradients(() => {
      const { logprobs, entropies } = policy.tokenLogprobs(sequences, { temperature });
      const output = lossOf(logprobs, entropies);
      metrics = output.metrics;
      return output.loss;
    });
    return { loss, gradients, metrics: metrics! };
  }

  // 1. Current log-probs and entropies of every target token, without gradients, in passes shared between threads.
  const values = policy.logprobValues(sequences, passOptions);
  const logprobValues = values.flatMap((value) => Array.from(value.logprobs));
  const entropyValues = values.flatMap((value) => Array.from(value.entropies));
  // 2. The mini-batch's loss from those values, and its derivative with respect to each of them (entropies
  //    enter the loss only with an entropy bonus, and tfjs refuses a gradient for an unused input).
  const withEntropy = lossConfig.entropyControl === 'bonus';
  let loss = Number.NaN;
  let perLogprob: Float32Array = new Float32Array(0);
  let perEntropy: Float32Array | undefined;
  tf.tidy(() => {
    const entropyInput = tf.tensor1d(entropyValues);
    const inputs = [tf.tensor1d(logprobValues), ...(withEntropy ? [entropyInput] : [])];
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const output = lossOf(xs[0] as tf.Tensor1D, (xs[1] ?? entropyInput) as tf.Tensor1D);
      metrics = output.metrics;
      return output.loss;
    })(inputs);
    loss = value.dataSync()[0]!;
    perLogprob = grads[0]!.dataSync() as Float32Array;
    if (withEntropy) perEntropy = grads[1]!.dataSync() as Float32Array;
  });
  // 3. The gradient of sum_i dL/dlogp_i * logp_i + dL/dH_i * H_i: each pass's share of dL/dweights, summed.
  let offset = 0;
  const weights = miniBatch.map((example) => {
    const count = example.oldLogprobs.length;
    const share = {
      logprobs: perLogprob.slice(offset, offset + count),
      entropies: perEntropy?.slice(offset, offset + count),
    };
    offset += count;
    return share;
  });
  return { loss, gradients: policy.gradientOf(sequences, weights, passOptions), metrics: metrics! };
}
