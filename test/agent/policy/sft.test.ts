import { describe, expect, it } from 'vitest';
import { behaviourCloning, sftOptionsSchema } from '../../../src/agent/policy/sft.js';

describe('behaviourCloning options', () => {
  it('are validated by their schema before anything runs, each bad one named; the defaults come from the schema', async () => {
    await expect(
      behaviourCloning({ env: 'puzzle/guess-number-v0', episodes: 0, model: { layers: 0 }, bogus: 1 } as never),
    ).rejects.toThrow(
      'Invalid SFT options: episodes: Too small: expected number to be >=1; model.layers: Too small: expected number to be >=1; unknown option bogus.',
    );
    expect(sftOptionsSchema.parse({ env: 'puzzle/guess-number-v0' })).toMatchObject({
      episodes: 256,
      steps: 150,
      batchTokens: 2048,
      learningRate: 2e-3,
      model: {},
    });
  });
});
