import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/helpers.js';

describe('turngym bench web', () => {
  // A smoke test of the real command: a few episodes on each side, figures not asserted (they are timings).
  it('runs (--quick) and prints the env and naive-loop figures as JSON', { timeout: 600_000 }, async () => {
    const result = await runCli(['bench', 'web', '--json', '--quick'], { timeoutMs: 540_000 });
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({
      benchmark: 'web',
      envs: ['web/shop-v0', 'web/forms-v0', 'web/wiki-v0'],
      throughput: { envs: 2 },
      targets: { step_p50_ms: 30, reset_p50_ms: 100 },
    });
    for (const side of [figures, figures.naive_baseline]) {
      expect(side.step.p50_ms).toBeGreaterThan(0);
      expect(side.step.in_page.n + side.step.navigation.n).toBe(side.step.n);
      expect(side.throughput.steps_per_s).toBeGreaterThan(0);
    }
    // Both sides are timed on the same steps of the same episodes.
    expect(figures.naive_baseline.step.n).toBe(figures.step.n);
    expect(figures.naive_baseline.reset.n).toBe(figures.reset.n);
    expect(figures.reset.n).toBeGreaterThan(0);
    expect(Object.keys(figures.by_env)).toEqual(figures.envs);
    expect(figures.speedup_p50.step).toBeGreaterThan(0);
  });
});
