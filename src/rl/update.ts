/**
 * The update of one training step: `trainingExamples` makes the trajectories and their advantages into
 * training sequences, and `runUpdates` makes `epochs` passes over them in `miniBatches` shuffled
 * mini-batches, one optimizer step each, with the policy loss of losses.ts.
 *
 * A mini-batch is not always run in one pass. One larger than `microBatchTokens` (sequences x longest sequence,
 * the size of the padded batch the transformer sees) would exhaust the WebAssembly heap (the attention scores
 * alone are sequences x heads x length^2 floats), and with worker threads (policy-threads.ts) the passes are
 * shared between the cores: `Policy.passes` cuts it into micro-batches, longest sequences first, at least one a
 * thread. Its gradient is accumulated over them, and it is the same gradient.
 *
 * Without Clip-Cov or KL-Cov (entropy control `none` or `bonus`), the loss is a sum over tokens of terms that each
 * depend on their own token's log-prob and entropy (divided by the whole mini-batch's weight, known beforehand):
 * each micro-batch's forward and backward pass computes its share of the loss and of the gradient directly
 * (`tokenObjective` of losses.ts, which the worker threads import), and the loss's value and metrics are
 * computed after, from the log-probs the passes saw. Clip-Cov and KL-Cov select tokens by a covariance over the
 * whole mini-batch, so their loss needs every token's log-prob before any derivative. When the mini-batch is at
 * most one pass a thread (`Policy.coupledGradientOf`), each thread's forward pass keeps its tape while this
 * thread gathers every log-prob and computes the loss's derivative with respect to each, then each thread's
 * backward pass takes its share. Otherwise (more passes than threads),
 *
 *   1. a forward pass per micro-batch, without gradients, gives every token's current log-prob and entropy;
 *   2. the loss of the whole mini-batch is computed from those values (the same token mean, the same
 *      selection over all its tokens), with dL/dlogp_i;
 *   3. a forward and backward pass per micro-batch of sum_i dL/dlogp_i * logp_i gives that micro-batch's share
 *      of dL/dweights (the chain rule), summed into one gradient.
 *
 * Step 1 is a forward pass more (about a quarter of the update's time, measured: a guess-number mini-batch on
 * two threads took 423 ms as a sum over tokens and 538 ms in three steps; a search mini-batch of 8 x 300
 * tokens 289 ms coupled and 381 ms in three steps).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Policy } from '../agent/policy/policy.js';
import { concatenate, linearObjective, type ScoredSequence } from '../agent/policy/logprobs.js';
import { groupIndices, isZeroAdvantage } from './advantages.js';
import {
  isSeparable,
  type LossConfig,
  type LossMetrics,
  lossNormaliser,
  policyLoss,
  tokenObjective,
  type TokenObjectiveSettings,
} from './losses.js';
import type { Trajectory } from './rollout.js';

/** The module of the loss as a token objective, which the policy's worker threads import. */
const TOKEN_OBJECTIVE_MODULE = new URL(`./losses.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url)
  .href;

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
 * Training sequences. Consecutive turns whose contexts each extend the previous turn's context and action
 * (typically: no turn was dropped between them to fit the context) are one sequence whose targets are all their
 * action tokens: one forward pass instead of one per turn, with exactly the same log-probs. A trajectory is at most
 * as many sequences as such runs of turns, so one whose context was cut late (its first turns fit, its last ones
 * did not) does not fall back to a sequence per turn. Turns with zero advantage carry no policy gradient and are
 * left out, unless `keepZeroAdvantage` (a KL penalty to the reference acts on every action token, including those
 * of groups whose rewards were all equal).
 */
export function trainingExamples(
  trajectories: readonly Trajectory[],
  advantages: readonly number[][],
  options: { keepZeroAdvantage?: boolean } = {},
): Example[] {
  const examples: Example[] = [];
  const kept = (advantage: number) => options.keepZeroAdvantage === true || !isZeroAdvantage(advantage);
  trajectories.forEach((trajectory, i) => {
    const isKept = trajectory.turns.map((turn, t) => kept(advantages[i]![t]!) && turn.tokens.length > 0);
    const trajectoryTokens = trajectory.turns.reduce((sum, turn, t) => sum + (isKept[t] ? turn.tokens.length : 0), 0);
    for (const run of prefixRuns(trajectory)) {
      const turns = run.filter((t) => isKept[t]);
      if (turns.length === 0) continue;
      const last = trajectory.turns[turns[turns.length - 1]!]!;
      const tokens = [...last.context, ...last.tokens];
      const targetMask = tokens.map(() => 0);
      const oldLogprobs: number[] = [];
      const tokenAdvantages: number[] = [];
      for (const t of turns) {
        const turn = trajectory.turns[t]!;
        turn.tokens.forEach((_, k) => {
          targetMask[turn.context.length + k] = 1;
        });
        oldLogprobs.push(...turn.logprobs);
        tokenAdvantages.push(...turn.tokens.map(() => advantages[i]![t]!));
      }
      examples.push({
        sequence: { tokens, targetMask },
        oldLogprobs,
        advantages: tokenAdvantages,
        trajectoryTokens,
        group: trajectory.group,
      });
    }
  });
  return examples;
}

/**
 * The trajectory's turns (indices) in maximal runs of consecutive turns where each turn's context followed by its
 * action tokens is a prefix of the next turn's context.
 */
function prefixRuns(trajectory: Trajectory): number[][] {
  const runs: number[][] = [];
  trajectory.turns.forEach((turn, t) => {
    const previous = t > 0 ? trajectory.turns[t - 1]! : undefined;
    if (previous && startsWith(turn.context, [...previous.context, ...previous.tokens])) runs[runs.length - 1]!.push(t);
    else runs.push([t]);
  });
  return runs;
}

/** True when `head` is a prefix of `tokens`. */
function startsWith(tokens: readonly number[], head: readonly number[]): boolean {
  if (tokens.length < head.length) return false;
  for (let k = 0; k < head.length; k++) if (tokens[k] !== head[k]) return false;
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
 * as many passes as `microBatchTokens` and the policy's threads need (the file header). The caller applies or
 * disposes the gradients.
 */
export function miniBatchGradients(
  policy: Policy,
  miniBatch: readonly Example[],
  options: Pick<UpdateOptions, 'temperature' | 'microBatchTokens'>,
  lossConfig: LossConfig,
  rng: Rng,
): { loss: number; gradients: Record<string, tf.Tensor>; metrics: LossMetrics } {
  const temperature = options.temperature;
  const tokenInputs = miniBatch.map((example) => {
    const inputs: Record<string, Float32Array> = {
      oldLogprobs: Float32Array.from(example.oldLogprobs),
      advantages: Float32Array.from(example.advantages),
      weights: Float32Array.from(tokenWeights(example, lossConfig)),
    };
    if (lossConfig.klCoef > 0) inputs.refLogprobs = Float32Array.from(example.refLogprobs ?? []);
    return inputs;
  });
  const flat = (name: string) => tf.tensor1d(concatenate(tokenInputs.map((inputs) => inputs[name]!)));
  const lossOf = (logprobs: tf.Tensor1D, entropies: tf.Tensor1D) =>
    policyLoss(
      {
        logprobs,
        entropies,
        oldLogprobs: flat('oldLogprobs'),
        advantages: flat('advantages'),
        weights: flat('weights'),
        refLogprobs: lossConfig.klCoef > 0 ? flat('refLogprobs') : undefined,
      },
      lossConfig,
      rng,
    );
  const sequences = miniBatch.map((example) => example.sequence);
  const passOptions = { temperature, maxBatchTokens: options.microBatchTokens };
  let metrics: LossMetrics | undefined;
  // The loss's value and metrics from the values of every token's log-prob and entropy.
  const evaluated = (values: readonly { logprobs: Float32Array; entropies: Float32Array }[]) => {
    let loss = Number.NaN;
    tf.tidy(() => {
      const output = lossOf(
        tf.tensor1d(concatenate(values.map((value) => value.logprobs))),
        tf.tensor1d(concatenate(values.map((value) => value.entropies))),
      );
      loss = output.loss.dataSync()[0]!;
      metrics = output.metrics;
    });
    return { loss, metrics: metrics! };
  };

  // A sum over tokens: one forward and backward pass per micro-batch, the loss's value and metrics after.
  if (isSeparable(lossConfig)) {
    const { gradients, values } = policy.gradientOf(
      sequences,
      {
        module: TOKEN_OBJECTIVE_MODULE,
        evaluate: tokenObjective,
        inputs: tokenInputs,
        settings: {
          config: lossConfig,
          normaliser: lossNormaliser(concatenate(tokenInputs.map((inputs) => inputs.weights!))),
        } satisfies TokenObjectiveSettings,
      },
      passOptions,
    );
    return { gradients, ...evaluated(values) };
  }

  // Clip-Cov and KL-Cov select tokens over the whole mini-batch, so the loss needs every token's log-prob first.
  // The loss's value, metrics and derivative with respect to each token's log-prob, from those values (only the
  // log-probs are an input: these losses do not read the entropies, and tfjs refuses an unused input).
  let loss = Number.NaN;
  const derivative = (values: readonly { logprobs: Float32Array; entropies: Float32Array }[]) => {
    let perLogprob = new Float32Array(0);
    tf.tidy(() => {
      const entropies = tf.tensor1d(concatenate(values.map((value) => value.entropies)));
      const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
        const output = lossOf(xs[0] as tf.Tensor1D, entropies);
        metrics = output.metrics;
        return output.loss;
      })([tf.tensor1d(concatenate(values.map((value) => value.logprobs)))]);
      loss = value.dataSync()[0]!;
      perLogprob = (grads[0]!.dataSync() as Float32Array).slice();
    });
    let offset = 0;
    return miniBatch.map((example) => {
      const count = example.oldLogprobs.length;
      offset += count;
      return { logprobs: perLogprob.slice(offset - count, offset) };
    });
  };
  // One forward and backward pass a thread, when the mini-batch is at most one pass a thread. (After a worker
  // thread failed in it, the three steps below draw Clip-Cov's random subset again.)
  const coupled = policy.coupledGradientOf(sequences, derivative, passOptions);
  if (coupled) return { loss, gradients: coupled, metrics: metrics! };
  // Else: 1. every token's log-prob and entropy, in passes without gradients; 2. the derivative; 3. the gradient
  // of sum_i dL/dlogp_i * logp_i, each pass's share summed.
  const weights = derivative(policy.logprobValues(sequences, passOptions));
  return {
    loss,
    gradients: policy.gradientOf(sequences, linearObjective(weights), passOptions).gradients,
    metrics: metrics!,
  };
}
