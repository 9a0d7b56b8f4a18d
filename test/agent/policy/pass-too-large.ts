/**
 * What out-of-memory.test.ts and out-of-memory-one-layer.test.ts share (each needs a process of its own: after a
 * real out-of-memory fault the wasm backend cannot be used again in it): a training pass too large for the wasm
 * heap, really run, and the checks of the error it gives.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { Policy } from '../../../src/agent/policy/policy.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { TurngymError } from '../../../src/core/errors.js';

/**
 * Real exhaustion, no fake: 8 sequences of 2,048 tokens with 8 heads need 1 GB per attention tensor, and the
 * forward pass keeps several of them alive for the backward one (the heap stops at 4 GB). Expects the
 * OUT_OF_MEMORY error that says which flags make passes smaller.
 */
export function expectPassTooLarge(layers: number): void {
  const tokenizer = Tokenizer.fit(['a b c d e f g', 'a b c d e f g']);
  const policy = Policy.create({ tokenizer, model: { layers, width: 16, heads: 8, contextLength: 2048 }, seed: 1 });
  const ids = Array.from({ length: 2048 }, (_, i) => 10 + (i % 5));
  const sequences = Array.from({ length: 8 }, () => ({ tokens: ids, targetMask: ids.map(() => 1) }));
  let caught: unknown;
  try {
    policy.computeGradients(() => tf.neg(tf.mean(policy.tokenLogprobs(sequences).logprobs)) as tf.Scalar);
  } catch (error) {
    caught = error;
  }
  expect(TurngymError.is(caught, 'OUT_OF_MEMORY')).toBe(true);
  const message = (caught as Error).message;
  expect(message).toMatch(/16384 padded tokens/);
  expect(message).toMatch(/--micro-batch-tokens/);
  expect(message).toMatch(/--resume/);
  expect(((caught as Error).cause as Error).name).toBe('RuntimeError');
}
