/**
 * The episode player on real guess-number envs (difficulty 1: 1..8, a horizon of 3 turns), with a scripted actor
 * that guesses 1, 2, 3 in turn; envs that fail are real envs wrapped to throw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Actor, type Episode, limitInFlight, playEpisodes } from '../../src/agent/player.js';
import type { Env } from '../../src/envs/env.js';
import { make } from '../../src/envs/registry.js';
import '../../src/envs/builtin.js';

const opened: Env[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((env) => env.close()));
});

async function envs(count: number): Promise<Env[]> {
  const made = await Promise.all(
    Array.from({ length: count }, () => make('puzzle/guess-number-v0', { difficulty: 1 }, { maxTurns: 3 })),
  );
  opened.push(...made);
  return made;
}

/** An env whose `reset` or `step` throws from its `after`-th call on (counting from 1). */
function failing(env: Env, call: 'reset' | 'step', after = 1): Env {
  let calls = 0;
  return new Proxy(env, {
    get(target, key, receiver) {
      if (key !== call) return Reflect.get(target, key, receiver);
      return async (...args: unknown[]) => {
        if (++calls >= after) throw new Error(`the env's ${call} crashed`);
        return (target[call] as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
}

/** Guesses 1, 2, 3 in turn, and keeps what it was asked: the indices and envs of each turn's episodes. */
function guesser(): Actor & { asked: { index: number; slot: number }[][] } {
  const asked: { index: number; slot: number }[][] = [];
  return {
    name: 'guesser',
    asked,
    act(episodes) {
      asked.push(episodes.map(({ index, slot }) => ({ index, slot })));
      return episodes.map((episode) => ({ action: `guess(${episode.transcript.turns.length + 1})` }));
    },
  };
}

describe('playEpisodes', () => {
  it('plays every episode of the list, each env taking the next one as its own ends, and returns them in list order', async () => {
    const seeds = [11, 12, 13, 14, 15];
    const actor = guesser();
    const progress: number[] = [];
    const ended: number[] = [];
    const played = await playEpisodes(
      await envs(2),
      seeds.map((seed) => ({ seed })),
      actor,
      { onProgress: (done, total) => progress.push(done / total), onEnd: (episode) => ended.push(episode.index) },
    );
    expect(played.transcripts.map((transcript) => transcript.seed)).toEqual(seeds);
    expect(played.dropped).toBe(0);
    expect(played.envSteps).toBe(played.transcripts.reduce((sum, transcript) => sum + transcript.turns.length, 0));
    for (const transcript of played.transcripts) {
      expect(transcript.agent).toBe('guesser');
      expect(transcript.turns.map((turn) => turn.action)).toEqual(
        ['guess(1)', 'guess(2)', 'guess(3)'].slice(0, transcript.turns.length),
      );
      expect(transcript.terminated || transcript.truncated).toBe(true);
      expect(transcript.return).toBe(transcript.turns.reduce((sum, turn) => sum + turn.reward, 0));
    }
    // Two envs at a time, in the order of their envs; episode 2 starts on whichever env is free first.
    expect(actor.asked[0]).toEqual([
      { index: 0, slot: 0 },
      { index: 1, slot: 1 },
    ]);
    expect(
      actor.asked.every(
        (turn) => turn.length <= 2 && turn.every((episode, i) => i === 0 || episode.slot > turn[i - 1]!.slot),
      ),
    ).toBe(true);
    expect(ended.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(progress).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('shows afterTurn the episodes that started, then after each turn those that stepped and those that started', async () => {
    const seen: string[][] = [];
    const label = (episode: Episode) =>
      `${episode.index}:${episode.transcript.turns.length}${episode.transcript.terminated || episode.transcript.truncated ? ' ended' : ''}`;
    const played = await playEpisodes(await envs(2), [{ seed: 1 }, { seed: 2 }, { seed: 3 }], guesser(), {
      afterTurn: (episodes) => void seen.push(episodes.map(label)),
    });
    expect(seen[0]).toEqual(['0:0', '1:0']);
    expect(seen[1]!.slice(0, 2)).toEqual([
      `0:1${played.transcripts[0]!.turns.length === 1 ? ' ended' : ''}`,
      `1:1${played.transcripts[1]!.turns.length === 1 ? ' ended' : ''}`,
    ]);
    // Every episode is shown once after each of its turns and once when it starts.
    const shown = seen.flat();
    played.transcripts.forEach((transcript, index) => {
      expect(shown.filter((entry) => entry.startsWith(`${index}:`))).toHaveLength(transcript.turns.length + 1);
    });
  });

  it('drops an episode whose reset or step throws when onError is given; its env goes on with the next one', async () => {
    const [first, second, third] = await envs(3);
    const failures: string[] = [];
    const played = await playEpisodes(
      [failing(first!, 'step'), second!, failing(third!, 'reset')],
      [{ seed: 1 }, { seed: 2 }, { seed: 3 }, { seed: 4 }],
      guesser(),
      { onError: (error, { index, phase }) => void failures.push(`${index} ${phase}: ${(error as Error).message}`) },
    );
    // The third env fails to reset episode 2, then episode 3; the first env fails its first step of episode 0.
    expect(failures).toEqual([
      "2 reset: the env's reset crashed",
      "3 reset: the env's reset crashed",
      "0 step: the env's step crashed",
    ]);
    expect(played.dropped).toBe(3);
    expect(played.transcripts.map((transcript) => transcript.seed)).toEqual([2]);
  });

  it('throws the error of a failed reset or step as it is without onError', async () => {
    const [env] = await envs(1);
    await expect(playEpisodes([failing(env!, 'step')], [{ seed: 1 }], guesser())).rejects.toThrow(
      "the env's step crashed",
    );
    await expect(playEpisodes([failing(env!, 'reset')], [{ seed: 1 }], guesser())).rejects.toThrow(
      "the env's reset crashed",
    );
  });
});

describe('limitInFlight', () => {
  it('lets calls through in order as slots free up, and passes results and errors on', async () => {
    const limit = limitInFlight(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    const calls = [0, 1, 2, 3].map((i) =>
      limit(async () => {
        started.push(i);
        await new Promise<void>((resolve) => release.push(resolve));
        if (i === 3) throw new Error('call 3 failed');
        return i * 10;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual([0, 1]);
    release[1]!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual([0, 1, 2]);
    release[0]!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual([0, 1, 2, 3]);
    release[2]!();
    release[3]!();
    const settled = await Promise.allSettled(calls);
    expect(
      settled.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as Error).message)),
    ).toEqual([0, 10, 20, 'call 3 failed']);
  });
});
