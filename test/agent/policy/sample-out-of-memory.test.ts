import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { MAX_SAMPLE_ATTENTION_SCORES, Policy } from '../../../src/agent/policy/policy.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { TurngymError } from '../../../src/core/errors.js';

// Its own file (like out-of-memory.test.ts): after a real out-of-memory fault the wasm backend cannot be used
// again in the process, and vitest runs each file in a fresh one.
beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('a sampling batch too large for the wasm heap', () => {
  // 32 contexts of 2,040 tokens with 8 heads need 4.3 GB for one attention score tensor (the heap stops at 4 GB)
  // in the first layer (the last one's first pass runs on the last position alone: forward's `columns`).
  const tokenizer = Tokenizer.fit(['a b c d e f g', 'a b c d e f g']);
  const policy = Policy.create({ tokenizer, model: { layers: 2, width: 16, heads: 8, contextLength: 2048 }, seed: 1 });
  const context = Array.from({ length: 2040 }, (_, i) => 10 + (i % 5));

  // First: after the out-of-memory fault below, the backend is unusable in this process.
  it('is split by default into batches whose attention scores fit, whatever the token budget allows', () => {
    const forward = vi.spyOn(policy.model, 'forward');
    const samples = policy.sample(
      Array.from({ length: 4 }, () => context),
      { maxTokens: 1, maxBatchTokens: 1 << 30 },
    );
    const rows = forward.mock.calls.map(([input]) => input.tokens.shape[0]);
    forward.mockRestore();
    expect(samples).toHaveLength(4);
    // 8 heads x 2,040^2 = 33M scores a row: one row under MAX_SAMPLE_ATTENTION_SCORES (50M), two over.
    expect(rows).toEqual([1, 1, 1, 1]);
    expect(8 * 2040 ** 2).toBeLessThan(MAX_SAMPLE_ATTENTION_SCORES);
  }, 120_000);

  it('is an OUT_OF_MEMORY error that names --sample-batch-tokens', () => {
    // Real exhaustion, no fake: both bounds are raised so that the rows are not split.
    let caught: unknown;
    try {
      policy.sample(
        Array.from({ length: 32 }, () => context),
        { maxTokens: 8, maxBatchTokens: 1 << 30, maxAttentionScores: Infinity },
      );
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
