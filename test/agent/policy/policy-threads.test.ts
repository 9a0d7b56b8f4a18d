/** Sampling and scoring split between this thread and a worker thread (policy-threads.ts) give what one thread gives. */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { linearObjective } from '../../../src/agent/policy/logprobs.js';
import { balancedPasses, Policy } from '../../../src/agent/policy/policy.js';
import { cloningStep } from '../../../src/agent/policy/sft.js';
import { PolicyThread, PolicyThreads, shareParts } from '../../../src/agent/policy/policy-threads.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { Rng } from '../../../src/core/rng.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

const tokenizer = Tokenizer.fit(
  ['the quick brown fox jumps over the lazy dog', 'a b c d e f g h'].flatMap((t) => [t, t]),
);
/** The policy of these tests: 2 layers of width 32, a context of 96 tokens. */
const smallPolicy = (seed: number) =>
  Policy.create({ tokenizer, model: { layers: 2, width: 32, heads: 4, contextLength: 96 }, maxActionTokens: 16, seed });

describe('policy threads', () => {
  const policy = smallPolicy(3);
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

  // A reply that lands between this thread's check of the reply count and its wait must wake it. When the wait
  // read the count anew, such a reply was lost until the deadline (about once in 60,000 replies; an eval of 200
  // episodes stopped after 600 s). The interleaving is forced here by a stand-in for Atomics.load (a fake, named
  // as such: the real race hits too rarely to test): its first read of the count waits until the real worker's
  // reply has landed and returns the count from before it.
  it('wakes for a reply that lands between its check and its wait (forced interleaving)', () => {
    const thread = new PolicyThread();
    const realLoad = Atomics.load.bind(Atomics) as (array: Int32Array, index: number) => number;
    let forced = false;
    const load = vi.spyOn(Atomics, 'load').mockImplementation(((array: Int32Array, index: number) => {
      const value = realLoad(array, index);
      if (forced || index !== 0 || array.length !== 3) return value;
      forced = true;
      Atomics.wait(array, 0, value, 5_000); // the worker's reply lands now
      return value;
    }) as typeof Atomics.load);
    try {
      thread.post({ type: 'end' });
      expect(thread.await(3_000)).toEqual({});
      expect(forced).toBe(true);
    } finally {
      load.mockRestore();
      thread.terminate();
    }
  });
});

describe('a behaviour-cloning step', () => {
  it("moves the weights on two threads as on one, and as the mean negative log-prob's own gradient does", () => {
    const batch = Array.from({ length: 12 }, (_, row) => {
      const tokens = tokenizer.encode(`the quick brown fox ${'jumps over '.repeat(row % 4)}the lazy dog`);
      return { tokens, targetMask: tokens.map((_, t) => (t % 3 === 1 ? 1 : 0)) };
    });
    const after = (step: (policy: Policy) => number) => {
      const policy = smallPolicy(4);
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
      const loss = cloningStep(policy, batch, 10_000);
      expect(policy.threads.workers()).toHaveLength(1); // the worker did its share
      return loss;
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
    const initial = smallPolicy(4);
    initial.variables.forEach((variable, v) =>
      variable.dataSync().forEach((value, i) => (moved = Math.max(moved, Math.abs(value - split.weights[v]![i]!)))),
    );
    initial.dispose();
    expect(moved).toBeGreaterThan(1e-4);
  }, 120_000);
});

describe('a coupled pass (a loss that reads every token of the batch, one forward and backward pass a thread)', () => {
  const policy = smallPolicy(6);
  afterAll(() => policy.dispose());
  const sequence = (length: number, shift = 0) => ({
    tokens: Array.from({ length }, (_, t) => 10 + ((t * 3 + shift) % 11)),
    targetMask: Array.from({ length }, (_, t) => (t > 2 ? 1 : 0)),
  });
  const batch = [sequence(40, 1), sequence(30, 2), sequence(35, 3), sequence(20, 4)];
  const lengths = batch.map((s) => s.tokens.length);
  // A derivative that depends on every token's values: the batch's mean log-prob (as Clip-Cov's covariance does).
  const derivative = (values: readonly { logprobs: Float32Array; entropies: Float32Array }[]) => {
    const all = values.flatMap((value) => Array.from(value.logprobs));
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    return values.map((value) => ({
      logprobs: value.logprobs.map((logprob) => (logprob > mean ? 0.3 : -0.2)),
      entropies: value.entropies.map(() => 0.05),
    }));
  };
  const flat = (gradients: Record<string, tf.Tensor>) =>
    Object.keys(gradients)
      .sort()
      .flatMap((name) => Array.from(gradients[name]!.dataSync()));

  it('gives, on two threads, the gradient of the derivative taken at the values of every token', () => {
    policy.threads = new PolicyThreads(1);
    const options = { maxBatchTokens: 10_000 };
    const values = policy.logprobValues(batch, options);
    const expected = policy.gradientOf(batch, linearObjective(derivative(values)), options).gradients;
    const threads = new PolicyThreads(2);
    policy.threads = threads;
    try {
      // Three passes shared out, two balanced ones (one a thread) for a coupled pass.
      expect(policy.passes(lengths, 10_000)).toHaveLength(3);
      expect(balancedPasses(lengths, 2, 10_000)).toEqual([
        [0, 2],
        [1, 3],
      ]);
      const tensors = tf.memory().numTensors;
      let seen: number[] = [];
      const coupled = policy.coupledGradientOf(
        batch,
        (all) => {
          seen = all.flatMap((value) => Array.from(value.logprobs));
          return derivative(all);
        },
        options,
      )!;
      expect(threads.workers()).toHaveLength(1); // the worker took a part and is still in use
      const want = values.flatMap((value) => Array.from(value.logprobs));
      seen.forEach((logprob, i) => expect(logprob).toBeCloseTo(want[i]!, 5));
      const a = flat(expected);
      const b = flat(coupled);
      expect(b).toHaveLength(a.length);
      a.forEach((value, i) => expect(Math.abs(b[i]! - value)).toBeLessThan(1e-6 + 1e-4 * Math.abs(value)));
      expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(1e-4);
      tf.dispose(Object.values(coupled));
      expect(tf.memory().numTensors).toBe(tensors); // nothing of the pass is left but its gradients
      tf.dispose(Object.values(expected));
      // More passes than threads: not a coupled pass.
      expect(policy.coupledGradientOf(batch, derivative, { maxBatchTokens: 60 })).toBeUndefined();
      expect(balancedPasses(lengths, 2, 60)).toBeUndefined();
      // A sequence over the budget is a pass of its own; the others stay within it.
      expect(balancedPasses([100, 30, 30, 30], 4, 50)).toEqual([[0], [1], [2], [3]]);
    } finally {
      threads.close();
    }
  }, 120_000);

  it("calls the worker's pass off when this thread's own pass fails, and the worker goes on working", () => {
    const threads = new PolicyThreads(2);
    policy.threads = threads;
    try {
      // The longest pass (this thread's) is over the context length; the worker's is not.
      expect(() =>
        policy.coupledGradientOf([sequence(100), sequence(30), sequence(20)], derivative, { maxBatchTokens: 10_000 }),
      ).toThrow('exceeds the context length 96');
      expect(threads.workers()).toHaveLength(1);
      const again = policy.coupledGradientOf(batch, derivative, { maxBatchTokens: 10_000 })!;
      expect(Object.keys(again).length).toBeGreaterThan(0);
      tf.dispose(Object.values(again));
    } finally {
      threads.close();
    }
  }, 120_000);
});
