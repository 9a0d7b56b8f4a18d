import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TurngymError } from '../../src/core/errors.js';
import { spec } from '../../src/envs/registry.js';
import { GuessNumberEnv } from '../../src/envs/puzzle/guess-number.js';
import type { Env, ResetOptions } from '../../src/envs/env.js';
import { cutText, type EpisodeRecord, wrap, Wrapper } from '../../src/envs/wrappers.js';
import '../../src/envs/builtin.js';

const bare = () => new GuessNumberEnv({ ...spec('puzzle/guess-number-v0') }, 3);

describe('OrderEnforcing', () => {
  it('makes stepping before reset, after the end, and after close typed errors', async () => {
    const env = wrap(bare());
    await expect(env.step('guess(1)')).rejects.toSatisfy((e) => TurngymError.is(e, 'RESET_NEEDED'));
    await env.reset({ seed: 1 });
    const secret = Number(env.groundTruth());
    const result = await env.step({ tool: 'guess', args: { n: secret } });
    expect(result).toMatchObject({ terminated: true, truncated: false, reward: 1, info: { success: true } });
    await expect(env.step('guess(1)')).rejects.toThrow(
      "The episode of 'puzzle/guess-number-v0' has terminated; call reset() to start a new one before stepping.",
    );
    await env.close();
    await env.close();
    await expect(env.reset()).rejects.toSatisfy((e) => TurngymError.is(e, 'ENV_CLOSED'));
  });

  it('refuses a reset option no layer reads, naming those they do; an env that lists none is not checked', async () => {
    const env = wrap(bare());
    await expect(env.reset({ seed: 1, options: { difficulty: 2, horizon: 5 } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: 'puzzle/guess-number-v0 reset: unknown option "horizon"; the options are difficulty, split, maxTurns.',
    });
    await expect(env.step('guess(1)')).rejects.toSatisfy((e) => TurngymError.is(e, 'RESET_NEEDED')); // no episode began
    expect(
      (await env.reset({ seed: 1, options: { difficulty: 2, maxTurns: 4, split: undefined } })).info,
    ).toMatchObject({ difficulty: 2, max_turns: 4 });

    const unlisted = wrap(Object.assign(bare(), { resetOptions: undefined }));
    expect((await unlisted.reset({ seed: 1, options: { anything: true } })).info).toMatchObject({ seed: 1 });
  });

  it('serialises concurrent calls', async () => {
    const env = wrap(bare());
    await env.reset({ seed: 1 });
    const results = await Promise.all(Array.from({ length: 5 }, () => env.step('guess(1)')));
    expect(results.map((r) => r.info.turn)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('HorizonLimit', () => {
  it('truncates at max turns, by default or per episode', async () => {
    const env = wrap(bare(), { maxTurns: 3 });
    await env.reset({ seed: 5 });
    const flags = [];
    for (let i = 0; i < 3; i++) flags.push((await env.step('guess(1)')).truncated);
    expect(flags).toEqual([false, false, true]);
    await env.reset({ seed: 5, options: { maxTurns: 1 } });
    expect((await env.step('guess(1)')).truncated).toBe(true);
    await env.reset({ seed: 5, options: { maxTurns: 2 } });
    expect((await env.step('guess(1)')).truncated).toBe(false);
    expect((await env.step('guess(1)')).truncated).toBe(true);
    await expect(env.reset({ options: { maxTurns: 0 } })).rejects.toThrow(
      'maxTurns must be a positive integer, got 0.',
    );
  });

  it('passes the horizon on down as the maxTurns reset option, the default again after an episode that set its own', async () => {
    const asked: unknown[] = [];
    class Spy extends Wrapper {
      override reset(options?: ResetOptions) {
        asked.push(options?.options?.maxTurns);
        return super.reset(options);
      }
    }
    const env = wrap(new Spy(bare()), { maxTurns: 3 });
    for (const options of [{}, { maxTurns: 5 }, {}])
      expect((await env.reset({ seed: 1, options })).info.max_turns).toBe(asked.at(-1));
    expect(asked).toEqual([3, 5, 3]);
  });

  it('does not truncate a step that terminates', async () => {
    const env = wrap(bare(), { maxTurns: 1 });
    await env.reset({ seed: 2 });
    const result = await env.step({ tool: 'guess', args: { n: Number(env.groundTruth()) } });
    expect(result).toMatchObject({ terminated: true, truncated: false });
  });
});

describe('midEpisode', () => {
  it('lets steps through to an env that may be mid-episode, with its own counts, until the first reset', async () => {
    const step = { observation: { text: 'ok' }, reward: 0, terminated: false, truncated: false, info: { turn: 7 } };
    const attached: Env = {
      spec: bare().spec,
      reset: async () => ({ observation: { text: 'start' }, info: {} }),
      step: async () => step,
      close: async () => {},
    };
    const env = wrap(attached, { midEpisode: true, maxTurns: 2 });
    expect((await env.step('guess(1)')).info).toEqual({ turn: 7 });
    await env.reset();
    expect((await env.step('guess(1)')).info).toEqual({ turn: 1 });
    expect(await env.step('guess(1)')).toMatchObject({
      truncated: true,
      info: { turn: 2, episode: { return: 0, length: 2, success: false } },
    });
    await expect(env.step('guess(1)')).rejects.toSatisfy((e) => TurngymError.is(e, 'EPISODE_ENDED'));
  });
});

describe('ObservationBudget', () => {
  it('cuts long text with a visible marker that says how much was cut', () => {
    const cut = cutText('x'.repeat(1000), 100);
    expect(cut.length).toBe(100);
    expect(cut).toMatch(/\n\[\.\.\. 9\d\d more characters cut \.\.\.\]$/);
    expect(cutText('short', 100)).toBe('short');
  });
});

describe('EpisodeStatistics and RecordEpisodes', () => {
  it('reports the episode on its last step and records it as JSONL', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'turngym-')), 'episodes.jsonl');
    const env = wrap(bare(), { recordTo: path });
    await env.reset({ seed: 9 });
    await env.step('guess(1)');
    const last = await env.step({ tool: 'guess', args: { n: Number(env.groundTruth()) } });
    expect(last.info.episode).toEqual({ return: 1, length: 2, success: true });
    await env.reset({ seed: 10 });
    await env.step('nonsense');
    await env.close();
    const records = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as EpisodeRecord);
    expect(records.map((r) => [r.seed, r.ended, r.steps.length])).toEqual([
      [9, 'terminated', 2],
      [10, 'abandoned', 1],
    ]);
    expect(records[1]!.steps[0]!.result.info.error?.code).toBe('UNPARSABLE_ACTION');
  });
});
