/** Sampling and scoring split between this thread and a worker thread (policy-threads.ts) give what one thread gives. */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { cloningStep } from '../../../src/agent/policy/sft.js';
import { PolicyThreads, shareParts } from '../../../src/agent/policy/policy-threads.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { Rng } from '../../../src/core/rng.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('policy threads', () => {
  const tokenizer = Tokenizer.fit(
    ['the quick brown fox jumps over the lazy dog', 'a b c d e f g h'].flatMap((t) => [t, t]),
  );
  const policy = Policy.create({
    tokenizer,
    model: { layers: 2, width: 32, heads: 4, contextLength: 96 },
    maxActionTokens: 16,
    seed: 3,
  });
  const contexts = Array.from({ length: 40 }, (_, row) =>
    tokenizer.encode(`the quick brown fox ${'jumps over '.repeat(row % 5)}the lazy dog`),
  );
  const one = new PolicyThreads(1);
  const two = new PolicyThreads(2);
  afterAll(() => {
    one.close();
    two.close();
    policy.dispose();
  });
  const sampleWith = (threads: PolicyThreads) => {
    policy.threads = threads;
    return policy.sample(contexts, { maxTokens: 12, rng: Rng.fromSeed(5), temperature: 1.5 });
  };

  it('gives every row the tokens, log-probs and entropies one thread gives', () => {
    expect(two.forSampling(contexts.length)).toHaveLength(1);
    const alone = sampleWith(one);
    const split = sampleWith(two);
    expect(split.map((sample) => sample.tokens)).toEqual(alone.map((sample) => sample.tokens));
    expect(split.map((sample) => sample.text)).toEqual(alone.map((sample) => sample.text));
    split.forEach((sample, row) => {
      sample.logprobs.forEach((logprob, t) => expect(logprob).toBeCloseTo(alone[row]!.logprobs[t]!, 5));
      sample.entropies.forEach((entropy, t) => expect(entropy).toBeCloseTo(alone[row]!.entropies[t]!, 5));
    });
  }, 120_000);

  it('samples the weights as they are now (after they change)', () => {
    const before = sampleWith(two);
    for (const variable of policy.variables)
      tf.tidy(() => variable.assign(tf.add(variable, tf.randomNormal(variable.shape, 0, 0.5, 'float32', 9))));
    const alone = sampleWith(one);
    const split = sampleWith(two);
    expect(split.map((sample) => sample.tokens)).toEqual(alone.map((sample) => sample.tokens));
    expect(split.map((sample) => sample.tokens)).not.toEqual(before.map((sample) => sample.tokens));
  }, 120_000);

  it('scores on two threads what one thread scores, in the order asked', () => {
    const scoreWith = (threads: PolicyThreads) => {
      policy.threads = threads;
      return policy.score(
        contexts.map((context) => context.slice(0, 6)),
        contexts.map((context) => context.slice(6)),
        { maxBatchTokens: 200 },
      );
    };
    const alone = scoreWith(one);
    const split = scoreWith(two);
    expect(split.map((scores) => scores.length)).toEqual(contexts.map((context) => context.length - 6));
    split.forEach((scores, row) => scores.forEach((score, t) => expect(score).toBeCloseTo(alone[row]![t]!, 5)));
  }, 120_000);

  it('does the share of a worker that failed here, and goes on on this thread', () => {
    const threads = new PolicyThreads(2);
    policy.threads = threads;
    const sequence = (length: number) => ({
      tokens: Array.from({ length }, (_, t) => 10 + (t % 7)),
      targetMask: Array.from({ length }, (_, t) => (t > 2 ? 1 : 0)),
    });
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      // Passes [100], [60, 60], [60]: this thread takes the largest, [60, 60]; the worker [100] and [60], and
      // fails on the sequence over the context length. Its share is done here, where the same check says what is
      // wrong (not that a thread failed).
      expect(() =>
        policy.logprobValues([sequence(100), sequence(60), sequence(60), sequence(60)], { maxBatchTokens: 1000 }),
      ).toThrow('exceeds the context length 96');
      expect(error).toHaveBeenCalledWith(expect.stringMatching(/working on this thread only: a policy thread failed/));
      expect(threads.workers()).toEqual([]);
      const values = policy.logprobValues([sequence(30), sequence(20)], { maxBatchTokens: 40 });
      policy.threads = one;
      const alone = policy.logprobValues([sequence(30), sequence(20)], { maxBatchTokens: 40 });
      expect(Array.from(values[0]!.logprobs)).toEqual(Array.from(alone[0]!.logprobs));
    } finally {
      error.mockRestore();
      threads.close();
    }
  }, 120_000);

  it('shares passes largest first to the least loaded thread', () => {
    expect(shareParts([5, 1, 4, 3, 3], 2)).toEqual([
      [0, 4],
      [1, 2, 3],
    ]);
    expect(shareParts([2, 2], 3)).toEqual([[0], [1], []]);
  });

  it('keeps small batches on this thread', () => {
    expect(two.forSampling(31)).toHaveLength(0);
    expect(two.forSampling(32)).toHaveLength(1);
  });
});

describe('a behaviour-cloning step', () => {
  it("moves the weights on two threads as on one, and as the mean negative log-prob's own gradient does", () => {
    const tokenizer = Tokenizer.fit(
      ['the quick brown fox jumps over the lazy dog', 'a b c d e f g h'].flatMap((t) => [t, t]),
    );
    const batch = Array.from({ length: 12 }, (_, row) => {
      const tokens = tokenizer.encode(`the quick brown fox ${'jumps over '.repeat(row % 4)}the lazy dog`);
      return { tokens, targetMask: tokens.map((_, t) => (t % 3 === 1 ? 1 : 0)) };
    });
    const after = (step: (policy: Policy) => number) => {
      const policy = Policy.create({
        tokenizer,
        model: { layers: 2, width: 32, heads: 4, contextLength: 96 },
        maxActionTokens: 16,
        seed: 4,
      });
      const threads = new PolicyThreads(2);
      policy.threads = threads;
      try {
        const loss = step(policy);
        return { loss, weights: policy.variables.map((variable) => Array.from(variable.dataSync())) };
      } finally {
        threads.close();
        policy.dispose();
      }
    };
    const definition = after((policy) => {
      policy.threads = new PolicyThreads(1);
      return policy.update(() => tf.neg(tf.mean(policy.tokenLogprobs(batch).logprobs)) as tf.Scalar).loss;
    });
    const alone = after((policy) => {
      policy.threads = new PolicyThreads(1);
      return cloningStep(policy, batch, 10_000);
    });
    const split = after((policy) => {
      expect(
        policy.passes(
          batch.map((sequence) => sequence.tokens.length),
          10_000,
        ).length,
      ).toBeGreaterThan(1);
      return cloningStep(policy, batch, 10_000);
    });
    let moved = 0;
    for (const result of [alone, split]) {
      expect(result.loss).toBeCloseTo(definition.loss, 5);
      result.weights.forEach((values, v) =>
        values.forEach((value, i) => {
          const expected = definition.weights[v]![i]!;
          expect(Math.abs(value - expected)).toBeLessThan(1e-6 + 1e-4 * Math.abs(expected));
        }),
      );
    }
    // The step moved the weights (the comparison is not of two untouched copies).
    const initial = Policy.create({
      tokenizer,
      model: { layers: 2, width: 32, heads: 4, contextLength: 96 },
      maxActionTokens: 16,
      maxActionTokens: 16,
      seed: 4,
    });
    initial.variables.forEach((variable, v) =>
      variable.dataSync().forEach((value, i) => (moved = Math.max(moved, Math.abs(value - split.weights[v]![i]!)))),
    );
    initial.dispose();
    expect(moved).toBeGreaterThan(1e-4);
  }, 120_000);
});
