import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { TurngymError } from '../../../src/envs/errors.js';

// Its own file (like out-of-memory.test.ts): after a real out-of-memory fault the wasm backend cannot be used
// again in the process, and vitest runs each file in a fresh one.
beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('a sampling batch too large for the wasm heap', () => {
  it('is an OUT_OF_MEMORY error that names --sample-batch-tokens', () => {
    // Real exhaustion, no fake: 32 contexts of 2,040 tokens with 8 heads need 4.3 GB for one attention score
    // tensor (the heap stops at 4 GB); the budget is raised so that the rows are not split.
    const tokenizer = Tokenizer.fit(['a b c d e f g', 'a b c d e f g']);
    const policy = Policy.create({ tokenizer, model: { layers: 1, width: 16, heads: 8, contextLength: 2048 }, seed: 1 });
    const context = Array.from({ length: 2040 }, (_, i) => 10 + (i % 5));
    let caught: unknown;
    try {
      policy.sample(Array.from({ length: 32 }, () => context), { maxTokens: 8, maxBatchTokens: 1 << 30 });
    } catch (error) {
      caught = error;
    }
    expect(TurngymError.is(caught, 'OUT_OF_MEMORY')).toBe(true);
    const message = (caught as Error).message;
    expect(message).toContain('sampling 32 rows of up to 2048 tokens (65536 padded tokens)');
    expect(message).toContain('--sample-batch-tokens');
    expect(message).toContain('--resume');
    expect(((caught as Error).cause as Error).name).toBe('RuntimeError');
  }, 120_000);
});
