/**
 * The callers of the held-out split: demonstrations and RL rollouts play training tasks, evaluation plays
 * held-out ones. Real envs (search/multihop-v0 over a 40-article world, where the pool of questions is
 * small) and a real, tiny policy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/agent/policy/backend.js';
import { evaluatePolicy, HELDOUT_SEED_BASE } from '../../src/agent/policy/evaluate.js';
import { Policy } from '../../src/agent/policy/policy.js';
import { collectDemonstrations, fitTokenizer } from '../../src/agent/policy/sft.js';
import type { Env } from '../../src/envs/env.js';
import { make } from '../../src/envs/registry.js';
import { splitOf } from '../../src/envs/task.js';
import { Rng } from '../../src/core/rng.js';
import '../../src/envs/builtin.js';
import { collectRollouts } from '../../src/rl/rollout.js';

const ID = 'search/multihop-v0';
const directory = mkdtempSync(join(tmpdir(), 'turngym-split-callers-'));
const KWARGS = { size: 40, difficulty: 1, indexDirectory: join(directory, 'index') };
let policy: Policy;
let demonstrationQuestions: string[];

function questionOf(text: string): string {
  const match = /^Question: (.*)$/m.exec(text);
  if (!match) throw new Error(`no question in:\n${text}`);
  return match[1]!;
}

beforeAll(async () => {
  await initBackend('wasm', () => {});
  const env = await make(ID, KWARGS);
  try {
    const demonstrations = await collectDemonstrations(
      env,
      Array.from({ length: 24 }, (_, i) => i),
    );
    demonstrationQuestions = demonstrations.map((transcript) => questionOf(transcript.prompt.text));
    policy = Policy.create({
      tokenizer: fitTokenizer(env.spec, demonstrations, 512),
      model: { layers: 1, width: 32, heads: 2, contextLength: 128 },
      seed: 1,
      maxActionTokens: 8,
    });
  } finally {
    await env.close();
  }
}, 120_000);

afterAll(() => {
  policy?.dispose();
  rmSync(directory, { recursive: true, force: true });
});

describe('the held-out split in training and evaluation', () => {
  it('demonstrations ask training questions only', () => {
    expect(demonstrationQuestions).toHaveLength(24);
    expect(demonstrationQuestions.filter((question) => splitOf(question) !== 'train')).toEqual([]);
  });

  it('evaluatePolicy plays held-out questions only, and says so', async () => {
    const { report, transcripts } = await evaluatePolicy(policy, ID, {
      episodes: 16,
      kwargs: KWARGS,
      parallel: 4,
      maxTurns: 1,
    });
    expect(report).toMatchObject({ episodes: 16, first_seed: HELDOUT_SEED_BASE, split: 'heldout', max_turns: 1 });
    const asked = transcripts.map((transcript) => questionOf(transcript.prompt.text));
    expect(asked.filter((question) => splitOf(question) !== 'heldout')).toEqual([]);
    expect(asked.filter((question) => demonstrationQuestions.includes(question))).toEqual([]);
    // The report counts malformed turns (this untrained policy's 8-token actions rarely parse) and breaks
    // the figures down by what each question asks for.
    const turns = transcripts.flatMap((transcript) => transcript.turns);
    const malformed = turns.filter((turn) =>
      ['UNPARSABLE_ACTION', 'UNKNOWN_TOOL', 'INVALID_ARGS', 'ACTION_TOO_LARGE'].includes(turn.info.error?.code ?? ''),
    );
    expect(malformed.length).toBeGreaterThan(0);
    expect(report.format_error_rate).toBeCloseTo(malformed.length / turns.length, 12);
    // ...and the success of the episodes with none (whether a gain is better decisions or fewer malformed actions).
    const wellFormed = transcripts.filter((transcript) => !transcript.turns.some((turn) => malformed.includes(turn)));
    expect(report.well_formed_episodes).toBe(wellFormed.length);
    expect(report.well_formed_success_rate).toBe(
      wellFormed.length ? wellFormed.filter((t) => t.success).length / wellFormed.length : null,
    );
    const kinds = transcripts.map((transcript) => transcript.kind!);
    expect(kinds.every((kind) => /^[a-z]+\.[a-zA-Z]+$/.test(kind))).toBe(true);
    expect(
      Object.fromEntries(Object.entries(report.by_kind!).map(([kind, summary]) => [kind, summary.episodes])),
    ).toEqual(
      Object.fromEntries([...new Set(kinds)].sort().map((kind) => [kind, kinds.filter((k) => k === kind).length])),
    );
    // split 'train' measures the policy on training questions instead (same seeds, other tasks).
    const onTrain = await evaluatePolicy(policy, ID, {
      episodes: 8,
      kwargs: KWARGS,
      parallel: 4,
      maxTurns: 1,
      split: 'train',
    });
    expect(onTrain.report.split).toBe('train');
    expect(onTrain.transcripts.map((transcript) => splitOf(questionOf(transcript.prompt.text)))).toEqual(
      Array(8).fill('train'),
    );
  }, 120_000);

  it('RL rollouts ask training questions only, even on seeds whose first draw is held out', async () => {
    const envs: Env[] = [];
    try {
      for (let i = 0; i < 8; i++) envs.push(await make(ID, KWARGS));
      // Seeds 0 and 1 first draw held-out questions at this size and difficulty (see test/envs/search/split.test.ts).
      const seeds = [0, 1, 2, 3, 2_000_000, 2_000_001, 2_000_002, 2_000_003];
      const batch = await collectRollouts(policy, envs, seeds, {
        maxTurns: 1,
        temperature: 1,
        topP: 1,
        maxActionTokens: 8,
        formatPenalty: 0,
        rng: Rng.fromSeed(7),
      });
      expect(batch.dropped).toBe(0);
      expect(batch.trajectories).toHaveLength(8);
      expect(batch.trajectories.map((trajectory) => splitOf(questionOf(trajectory.prompt.text)))).toEqual(
        Array(8).fill('train'),
      );
    } finally {
      await Promise.all(envs.map((env) => env.close()));
    }
  }, 120_000);
});
