import { describe, expect, it } from 'vitest';
import type { Action, Env } from '../../src/envs/env.js';
import { EnvPool } from '../../src/envs/pool.js';
import { make } from '../../src/envs/registry.js';
import { Wrapper } from '../../src/envs/wrappers.js';
import '../../src/envs/builtin.js';

/** A fault we cannot cause for real in guess-number: an env whose step throws once (named as a fake fault). */
class FailingOnceEnv extends Wrapper {
  failed = false;
  override async step(action: Action) {
    if (!this.failed) {
      this.failed = true;
      throw new Error('simulated infrastructure fault');
    }
    return this.inner.step(action);
  }
}

describe('EnvPool', () => {
  it('steps envs concurrently and autoresets finished episodes', async () => {
    const pool = await EnvPool.create({ size: 4, seed: 7, create: () => make('puzzle/guess-number-v0', { difficulty: 1 }) });
    const resets = await pool.reset();
    expect(resets).toHaveLength(4);
    const secrets = [0, 1, 2, 3].map((i) => Number(pool.env(i).groundTruth()));
    const results = await pool.step(secrets.map((n, i) => (i % 2 === 0 ? { tool: 'guess', args: { n } } : 'guess(0)')));
    expect(results.map((r) => r.ok && r.terminated)).toEqual([true, false, true, false]);
    expect(results[0]).toMatchObject({ ok: true, next: { info: { difficulty: 1 } } });
    expect(results[1]!.next).toBeUndefined();
    // After autoreset the slot plays a new episode.
    const again = await pool.step(['guess(1)', 'guess(1)', 'guess(1)', 'guess(1)']);
    expect(again.every((r) => r.ok)).toBe(true);
    await pool.close();
  });

  it('is deterministic for a pool seed', async () => {
    const firstTasks = async () => {
      const pool = await EnvPool.create({ size: 3, seed: 11, create: () => make('puzzle/guess-number-v0') });
      await pool.reset();
      const truths = [0, 1, 2].map((i) => pool.env(i).groundTruth());
      await pool.close();
      return truths;
    };
    expect(await firstTasks()).toEqual(await firstTasks());
  });

  it("keeps the other envs going when one env fails, and replaces the failed one", async () => {
    let created = 0;
    const pool = await EnvPool.create({
      size: 3,
      create: async (index) => {
        created++;
        const env = await make('puzzle/guess-number-v0');
        return index === 1 && created <= 3 ? new FailingOnceEnv(env) : (env as Env);
      },
    });
    await pool.reset();
    const results = await pool.step(['guess(1)', 'guess(1)', 'guess(1)']);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]).toMatchObject({ ok: false, error: { code: 'ENV_FAILURE', message: 'slot 1: simulated infrastructure fault' } });
    expect(results[1]!.next?.observation.text).toContain('I am thinking of an integer');
    const after = await pool.step(['guess(1)', 'guess(1)', 'guess(1)']);
    expect(after.map((r) => r.ok)).toEqual([true, true, true]);
    expect(created).toBe(4);
    await pool.close();
  });

  it('checks the number of actions', async () => {
    const pool = await EnvPool.create({ size: 2, create: () => make('puzzle/guess-number-v0') });
    await pool.reset();
    await expect(pool.step(['guess(1)'])).rejects.toThrow('EnvPool.step needs 2 actions, got 1');
    await pool.close();
  });
});
