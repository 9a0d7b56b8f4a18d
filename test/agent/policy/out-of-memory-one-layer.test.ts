import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { TurngymError } from '../../../src/core/errors.js';

// Its own file, as out-of-memory.test.ts: after a real out-of-memory fault the wasm backend cannot be used again
// in the process. The same exhaustion with one layer faults in another form ("table index is out of bounds": the
// failed allocation let a kernel overwrite a function pointer); it is the same error to the user.
beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('a pass of a one-layer model too large for the wasm heap', () => {
  it('is an OUT_OF_MEMORY error that says which flags make passes smaller', () => {
    // Real exhaustion, no fake: 8 sequences of 2,048 tokens with 8 heads, 1 GB per attention tensor.
    const tokenizer = Tokenizer.fit(['a b c d e f g', 'a b c d e f g']);
    const policy = Policy.create({
      tokenizer,
      model: { layers: 1, width: 16, heads: 8, contextLength: 2048 },
      seed: 1,
    });
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
    expect(((caught as Error).cause as Error).name).toBe('RuntimeError');
  }, 120_000);
});
