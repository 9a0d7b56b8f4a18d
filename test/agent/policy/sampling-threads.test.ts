/** Sampling split between this thread and a worker thread (sampling-threads.ts) draws what one thread draws. */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { SamplingThreads } from '../../../src/agent/policy/sampling-threads.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { Rng } from '../../../src/core/rng.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('sampling threads', () => {
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
  const one = new SamplingThreads(1);
  const two = new SamplingThreads(2);
  afterAll(() => {
    one.close();
    two.close();
    policy.dispose();
  });
  const sampleWith = (threads: SamplingThreads) => {
    policy.samplingThreads = threads;
    return policy.sample(contexts, { maxTokens: 12, rng: Rng.fromSeed(5), temperature: 1.5 });
  };

  it('gives every row the tokens, log-probs and entropies one thread gives', () => {
    expect(two.partsFor(contexts.length)).toHaveLength(1);
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

  it('keeps small batches on this thread', () => {
    expect(two.partsFor(31)).toHaveLength(0);
    expect(two.partsFor(32)).toHaveLength(1);
  });
});
