import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../src/envs/check.js';
import { make } from '../../src/envs/registry.js';
import '../../examples/custom-env.js';

describe('examples/custom-env.ts', () => {
  it('registers an env that passes checkEnv', async () => {
    const report = await checkEnv(await make('example/safe-v0', { difficulty: 3 }, { maxTurns: 40 }));
    expect(report.failures).toEqual([]);
  });
});
