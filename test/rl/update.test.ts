import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/agent/policy/backend.js';
import { Policy } from '../../src/agent/policy/policy.js';
import { PolicyThreads } from '../../src/agent/policy/policy-threads.js';
import { Tokenizer } from '../../src/agent/policy/tokenizer.js';
import { Rng } from '../../src/core/rng.js';
import { computeAdvantages } from '../../src/rl/advantages.js';
import { type LossMetrics, lossConfigSchema, policyLoss } from '../../src/rl/losses.js';
import type { Trajectory } from '../../src/rl/rollout.js';
import { type Example, miniBatchGradients, shuffledMiniBatches, trainingExamples } from '../../src/rl/update.js';
import { turn } from './trajectory-fixture.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

const TEXT =
  'I am thinking of an integer from 1 to 32. guess(n=16) 16: higher. guess(n=24) 24: lower. guess(n=20) 20 is correct!';

/** Examples of different lengths with targets on their second half, old log-probs off the current ones, mixed advantages. */
function examples(policy: Policy, tokenizer: Tokenizer): Example[] {
  const rng = Rng.fromSeed(7);
  const all = tokenizer.encode(TEXT);
  return [9, 23, 14, 30, 17, 26, 11].map((length, index) => {
    const tokens = all.slice(0, length);
    const targetMask = tokens.map((_, t) => (t >= Math.floor(length / 2) ? 1 : 0));
    const targets = targetMask.slice(1).filter((flag) => flag === 1).length;
    const current = policy.score([tokens.slice(0, length - targets)], [tokens.slice(length - targets)])[0]!;
    return {
      sequence: { tokens, targetMask },
      oldLogprobs: current.map((logp) => logp + (rng.float() - 0.5) * 0.6),
      refLogprobs: current.map((logp) => logp + (rng.float() - 0.5) * 0.4),
      advantages: current.map((_, k) => (index % 2 === 0 ? 1 : -1) * (0.5 + k * 0.1)),
      trajectoryTokens: current.length * (1 + (index % 3)),
      group: index % 3,
    };
  });
}

describe('shuffled mini-batches', () => {
  // 10 groups of 1 to 4 sequences each (25 in all), told apart by their first token.
  const sizes = [3, 1, 4, 2, 2, 3, 4, 1, 2, 3];
  const all: Example[] = sizes.flatMap((size, group) =>
    Array.from({ length: size }, (_, k) => ({
      sequence: { tokens: [group * 10 + k], targetMask: [1] },
      oldLogprobs: [0],
      advantages: [0],
      trajectoryTokens: 1,
      group,
    })),
  );
  const ids = (batch: Example[]) => batch.map((example) => example.sequence.tokens[0]!);

  it("by 'group' keeps each group's sequences in one mini-batch, and uses every sequence once", () => {
    const batches = shuffledMiniBatches(all, { miniBatches: 4, miniBatchBy: 'group' }, Rng.fromSeed(3));
    expect(batches).toHaveLength(4); // 10 groups in runs of 3: 3 + 3 + 3 + 1
    expect(batches.flatMap(ids).sort((a, b) => a - b)).toEqual(
      all.map((example) => example.sequence.tokens[0]!).sort((a, b) => a - b),
    );
    for (const batch of batches) {
      for (const group of new Set(batch.map((example) => example.group))) {
        expect(batch.filter((example) => example.group === group)).toHaveLength(sizes[group]!);
      }
    }
  });

  it("by 'play' (the default) splits groups: some group's sequences land in different mini-batches", () => {
    const batches = shuffledMiniBatches(all, { miniBatches: 4 }, Rng.fromSeed(3));
    expect(batches.map((batch) => batch.length)).toEqual([7, 7, 7, 4]);
    const homes = (group: number) =>
      new Set(batches.flatMap((batch, b) => batch.filter((example) => example.group === group).map(() => b)));
    expect(sizes.some((_, group) => homes(group).size > 1)).toBe(true);
  });
});

describe('mini-batch gradients over micro-batches', () => {
  it('cuts sequences into passes by padded size, longest first, and into one pass a thread', () => {
    const tokenizer = Tokenizer.fit([TEXT, TEXT]);
    const policy = Policy.create({ tokenizer, model: { layers: 1, width: 16, heads: 2, contextLength: 128 } });
    policy.threads = new PolicyThreads(1);
    expect(policy.passes([10, 10, 30, 5, 5, 100], 40)).toEqual([[5], [2], [0, 1, 3, 4]]);
    expect(policy.passes([10, 10, 10], 1000)).toEqual([[0, 1, 2]]);
    policy.threads = new PolicyThreads(2);
    if (tf.getBackend() === 'wasm') expect(policy.passes([10, 10, 10], 1000)).toEqual([[0], [1], [2]]);
    policy.dispose();
  });

  it.each([
    ['none', 'token-mean', 0],
    ['bonus', 'token-mean', 0],
    ['clip-cov', 'token-mean', 0],
    ['kl-cov', 'token-mean', 0],
    ['none', 'trajectory-mean', 0],
    ['bonus', 'trajectory-mean', 0],
    ['none', 'token-mean', 0.5],
    ['clip-cov', 'token-mean', 0.5],
  ] as const)(
    "give the loss's own value, metrics and gradient (one pass, one thread), in any passes on one thread or two (%s, %s, KL %s)",
    (entropyControl, lossAggregation, klCoef) => {
      const tokenizer = Tokenizer.fit([TEXT, TEXT]);
      const policy = Policy.create({
        tokenizer,
        model: { layers: 1, width: 32, heads: 2, contextLength: 64 },
        maxActionTokens: 8,
        seed: 5,
      });
      const batch = examples(policy, tokenizer);
      // Ratios large enough that Clip-Cov and KL-Cov select several tokens, bounds wide enough to have candidates.
      const lossConfig = lossConfigSchema.parse({
        entropyControl,
        lossAggregation,
        clipCovRatio: 0.3,
        clipCovLb: -10,
        clipCovUb: 10,
        klCovRatio: 0.3,
        entropyCoef: 0.05,
        klCoef,
      });
      const gradientsWith = (threads: number, microBatchTokens: number) => {
        policy.threads = new PolicyThreads(threads);
        try {
          const result = miniBatchGradients(
            policy,
            batch,
            { temperature: 1, microBatchTokens },
            lossConfig,
            Rng.fromSeed(3),
          );
          // The worker did its share (a worker that failed is given up, and its share done here, unseen).
          expect(policy.threads.workers()).toHaveLength(threads - 1);
          return result;
        } finally {
          policy.threads.close();
        }
      };
      // The definition: policyLoss of the whole mini-batch's differentiable log-probs, one pass, one thread.
      policy.threads = new PolicyThreads(1);
      let wholeMetrics: LossMetrics | undefined;
      const flat = (values: (example: Example) => number[]) => tf.tensor1d(batch.flatMap(values));
      const definition = policy.computeGradients(() => {
        const { logprobs, entropies } = policy.tokenLogprobs(
          batch.map((example) => example.sequence),
          { temperature: 1 },
        );
        const output = policyLoss(
          {
            logprobs,
            entropies,
            oldLogprobs: flat((example) => example.oldLogprobs),
            advantages: flat((example) => example.advantages),
            weights: flat((example) =>
              example.oldLogprobs.map(() => (lossAggregation === 'token-mean' ? 1 : 1 / example.trajectoryTokens)),
            ),
            refLogprobs: klCoef > 0 ? flat((example) => example.refLogprobs!) : undefined,
          },
          lossConfig,
          Rng.fromSeed(3),
        );
        wholeMetrics = output.metrics;
        return output.loss;
      });
      const whole = { ...definition, metrics: wholeMetrics! };
      expect(
        policy.passes(
          batch.map((example) => example.sequence.tokens.length),
          64,
        ).length,
      ).toBeGreaterThan(2);
      for (const split of [
        gradientsWith(1, 100_000),
        gradientsWith(1, 64),
        gradientsWith(2, 64),
        gradientsWith(2, 100_000),
      ]) {
        expect(split.loss).toBeCloseTo(whole.loss, 5);
        expect(split.metrics).toEqual({
          ...whole.metrics,
          ppo_kl: expect.closeTo(whole.metrics.ppo_kl, 5),
          cov_mean: expect.closeTo(whole.metrics.cov_mean, 5),
          cov_max: expect.closeTo(whole.metrics.cov_max, 5),
          kl_ref: expect.closeTo(whole.metrics.kl_ref, 5),
        });
        if (klCoef > 0) expect(whole.metrics.kl_ref).toBeGreaterThan(1e-3);
        if (entropyControl === 'clip-cov' || entropyControl === 'kl-cov')
          expect(whole.metrics.selected).toBeGreaterThan(1);
        expect(Object.keys(split.gradients).sort()).toEqual(Object.keys(whole.gradients).sort());
        let largest = 0;
        for (const [name, gradient] of Object.entries(whole.gradients)) {
          const a = gradient.dataSync();
          const b = split.gradients[name]!.dataSync();
          for (let i = 0; i < a.length; i++) {
            largest = Math.max(largest, Math.abs(a[i]!));
            expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5 + 1e-3 * Math.abs(a[i]!));
          }
        }
        expect(largest).toBeGreaterThan(1e-4); // the gradients compared are not all zero
        tf.dispose(Object.values(split.gradients));
      }
      tf.dispose(Object.values(whole.gradients));
      policy.dispose();
    },
  );
});

describe('trainingExamples', () => {
  it('merges a trajectory into one sequence when each context extends the previous one', () => {
    const trajectory: Trajectory = {
      group: 5,
      seed: 0,
      prompt: '',
      return: 1,
      success: true,
      truncated: false,
      turns: [turn([1, 2, 3], [7, 8]), turn([1, 2, 3, 7, 8, 9, 4, 3], [5])],
    };
    const [example] = trainingExamples([trajectory], [[0.5, -1]]);
    expect(example!.sequence.tokens).toEqual([1, 2, 3, 7, 8, 9, 4, 3, 5]);
    expect(example!.sequence.targetMask).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 1]);
    expect(example!.advantages).toEqual([0.5, 0.5, -1]);
    expect(example!.oldLogprobs).toEqual([-0.7, -0.8, -0.5]);
    expect(example!.trajectoryTokens).toBe(3);
    expect(example!.group).toBe(5); // what --mini-batch-by group keeps together
  });

  it('keeps turns apart when the context was cut, and drops zero-advantage turns', () => {
    const trajectory: Trajectory = {
      group: 0,
      seed: 0,
      prompt: '',
      return: 0,
      success: false,
      truncated: true,
      turns: [turn([1, 2, 3], [7]), turn([1, 99, 3], [5]), turn([1, 99, 3, 5, 6], [4])],
    };
    const examples = trainingExamples([trajectory], [[1, 0, 2]]);
    expect(examples.map((e) => e.sequence.tokens)).toEqual([
      [1, 2, 3, 7],
      [1, 99, 3, 5, 6, 4],
    ]);
    expect(examples.map((e) => e.trajectoryTokens)).toEqual([2, 2]); // the two turns that carry advantage
  });

  it('merges the turns before a cut into one sequence and those after it into another, with the same log-probs', () => {
    // Turns 0 and 1 fit the context; turn 2's context dropped turn 0 (a cut); turn 3 extends turn 2. Turn 1 carries
    // no advantage: the first sequence ends at turn 0's action, the last turn kept in its run.
    const trajectory: Trajectory = {
      group: 1,
      seed: 0,
      prompt: '',
      return: 0,
      success: false,
      truncated: true,
      turns: [
        turn([1, 2, 3], [7, 8]),
        turn([1, 2, 3, 7, 8, 9], [5]),
        turn([1, 9, 5, 6], [4]),
        turn([1, 9, 5, 6, 4, 2, 2], [3, 6]),
      ],
    };
    const examples = trainingExamples([trajectory], [[1, 0, -1, 2]]);
    expect(examples.map((e) => e.sequence.tokens)).toEqual([
      [1, 2, 3, 7, 8],
      [1, 9, 5, 6, 4, 2, 2, 3, 6],
    ]);
    expect(examples.map((e) => e.sequence.targetMask)).toEqual([
      [0, 0, 0, 1, 1],
      [0, 0, 0, 0, 1, 0, 0, 1, 1],
    ]);
    expect(examples.map((e) => e.advantages)).toEqual([
      [1, 1],
      [-1, 2, 2],
    ]);
    expect(examples.map((e) => e.oldLogprobs)).toEqual([
      [-0.7, -0.8],
      [-0.4, -0.3, -0.6],
    ]);
    expect(examples.map((e) => e.trajectoryTokens)).toEqual([5, 5]);

    // A real policy gives each target token of a merged sequence the log-prob it has as its own turn's sequence.
    const tokenizer = Tokenizer.fit([TEXT, TEXT]);
    const policy = Policy.create({
      tokenizer,
      model: { layers: 1, width: 16, heads: 2, contextLength: 32 },
      maxActionTokens: 4,
      seed: 2,
    });
    policy.threads = new PolicyThreads(1);
    const merged = policy.logprobValues(
      examples.map((e) => e.sequence),
      { temperature: 1, maxBatchTokens: 4096 },
    );
    const perTurn = policy.logprobValues(
      [trajectory.turns[2]!, trajectory.turns[3]!].map((t) => ({
        tokens: [...t.context, ...t.tokens],
        targetMask: [...t.context.map(() => 0), ...t.tokens.map(() => 1)],
      })),
      { temperature: 1, maxBatchTokens: 4096 },
    );
    const expected = [...perTurn[0]!.logprobs, ...perTurn[1]!.logprobs];
    expect(merged[1]!.logprobs.length).toBe(3);
    Array.from(merged[1]!.logprobs).forEach((logprob, k) => expect(logprob).toBeCloseTo(expected[k]!, 4));
    policy.dispose();
  });

  it('keeps zero-advantage turns for a KL penalty, so it also holds groups whose rewards were all equal', () => {
    const solved = (seed: number): Trajectory => ({
      group: 0,
      seed,
      prompt: '',
      return: 1,
      success: true,
      truncated: false,
      turns: [turn([1, 2], [7]), turn([1, 2, 7, 9], [5, 6])],
    });
    const group = [solved(0), solved(1)];
    const advantages = computeAdvantages(group, { advantage: 'grpo', alpha: 1, gamma: 1, igNormalization: 'joint' });
    expect(advantages).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(trainingExamples(group, advantages)).toEqual([]);
    const kept = trainingExamples(group, advantages, { keepZeroAdvantage: true });
    expect(kept.map((e) => e.sequence.tokens)).toEqual([
      [1, 2, 7, 9, 5, 6],
      [1, 2, 7, 9, 5, 6],
    ]);
    expect(kept.map((e) => e.advantages)).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(kept.map((e) => e.trajectoryTokens)).toEqual([3, 3]);
  });
});
