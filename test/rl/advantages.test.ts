import { describe, expect, it } from 'vitest';
import {
  computeAdvantages,
  discountedReturns,
  grpoAdvantages,
  igpoAdvantages,
  trainedTrajectories,
  zScores,
} from '../../src/rl/advantages.js';
import { horizonAt, parseCurriculum } from '../../src/rl/curriculum.js';
import { isFormatError } from '../../src/core/errors.js';
import { formatPenalty, informationGain } from '../../src/rl/rewards.js';
import { trainingExamples } from '../../src/rl/update.js';
import { played, turn } from './trajectory-fixture.js';

const parts = (informationGain: number, format = 0) => ({ informationGain, format, env: 0 });

describe('rewards', () => {
  it('computes information gain as differences of exp(mean log-prob), or of mean log-probs', () => {
    const logps = [Math.log(0.1), Math.log(0.3), Math.log(0.25)];
    const gains = informationGain(logps);
    expect(gains[0]).toBeCloseTo(0.2, 10);
    expect(gains[1]).toBeCloseTo(-0.05, 10);
    expect(informationGain(logps, 'logprob')[0]).toBeCloseTo(Math.log(3), 10);
  });

  it('penalises malformed actions only', () => {
    expect(formatPenalty({ error: { code: 'UNPARSABLE_ACTION', message: '' } }, 0.5)).toBe(-0.5);
    expect(formatPenalty({ error: { code: 'TOOL_ERROR', message: '' } }, 0.5)).toBe(0);
    expect(formatPenalty({}, 0.5)).toBe(0);
    // What rollout/format_error_rate counts, with or without a penalty.
    expect(
      ['UNPARSABLE_ACTION', 'UNKNOWN_TOOL', 'INVALID_ARGS', 'ACTION_TOO_LARGE', 'TOOL_ERROR', undefined].map(
        isFormatError,
      ),
    ).toEqual([true, true, true, true, false, false]);
  });
});

describe('advantages', () => {
  it('z-scores GRPO returns within the group', () => {
    const advantages = grpoAdvantages([1, 0, 0, 1]);
    expect(advantages.map((a) => Math.round(a * 1e4) / 1e4)).toEqual([1, -1, -1, 1]);
    expect(grpoAdvantages([1, 1, 1])).toEqual([0, 0, 0]);
    expect(zScores([])).toEqual([]);
  });

  it('discounts turn rewards backwards', () => {
    expect(discountedReturns([1, 2, 3], 1)).toEqual([6, 5, 3]);
    expect(discountedReturns([1, 2, 3], 0.5)).toEqual([1 + 0.5 * (2 + 0.5 * 3), 2 + 1.5, 3]);
  });

  it('computes IGPO advantages with joint normalization (hand-computed)', () => {
    // Two trajectories: turn rewards [0.2, 0.1 + 1*1] and [-0.1, 0 + 1*0].
    const group = [
      { turns: [parts(0.2), parts(0.1)], outcome: 1 },
      { turns: [parts(-0.1), parts(0)], outcome: 0 },
    ];
    const raw = [0.2, 1.1, -0.1, 0];
    const mean = raw.reduce((a, b) => a + b) / 4;
    const std = Math.sqrt(raw.reduce((s, v) => s + (v - mean) ** 2, 0) / 4);
    const z = raw.map((v) => (v - mean) / (std + 1e-6));
    const advantages = igpoAdvantages(group, { alpha: 1, gamma: 1, normalization: 'joint' });
    expect(advantages[0]![0]).toBeCloseTo(z[0]! + z[1]!, 6);
    expect(advantages[0]![1]).toBeCloseTo(z[1]!, 6);
    expect(advantages[1]![0]).toBeCloseTo(z[2]! + z[3]!, 6);
  });

  it('computes IGPO advantages with separate normalization', () => {
    const group = [
      { turns: [parts(0.3), parts(0.1, -0.5)], outcome: 1 },
      { turns: [parts(0.1)], outcome: 0 },
    ];
    const advantages = igpoAdvantages(group, { alpha: 1, gamma: 1, normalization: 'separate' });
    const gains = zScores([0.3, 0.1, 0.1]);
    const outcomes = zScores([1, 0]);
    expect(advantages[0]![1]).toBeCloseTo(gains[1]! - 0.5 + outcomes[0]!, 6);
    expect(advantages[0]![0]).toBeCloseTo(gains[0]! + advantages[0]![1]!, 6);
    expect(advantages[1]![0]).toBeCloseTo(gains[2]! + outcomes[1]!, 6);
  });
});

describe('computeAdvantages', () => {
  it('keeps the first groups with a policy gradient for dynamic sampling', () => {
    // Group 0 all solved (no gradient), 1 mixed, 2 all failed (none), 3 mixed, 4 mixed; group 3 listed first.
    const trajectories = [
      played(3, true),
      played(3, false),
      played(0, true),
      played(0, true),
      played(1, false),
      played(1, true),
      played(2, false),
      played(2, false),
      played(4, true),
      played(4, false),
    ];
    const advantages = computeAdvantages(trajectories, {
      advantage: 'grpo',
      alpha: 1,
      gamma: 1,
      igNormalization: 'joint',
    });
    expect(trainedTrajectories(trajectories, advantages, 1)).toEqual({ indices: [0, 1], groups: 1 }); // group 3: it comes first
    expect(trainedTrajectories(trajectories, advantages, 2)).toEqual({ indices: [0, 1, 4, 5], groups: 2 }); // groups 3 and 1
    expect(trainedTrajectories(trajectories, advantages, 10)).toEqual({ indices: [0, 1, 4, 5, 8, 9], groups: 3 });
    expect(trainedTrajectories(trajectories.slice(2, 4), advantages.slice(2, 4), 1)).toEqual({
      indices: [],
      groups: 0,
    });
  });

  it('gives GRPO advantages per group and none to a lone trajectory', () => {
    const base = {
      prompt: '',
      seed: 0,
      success: false,
      truncated: false,
      turns: [turn([1], [2]), turn([1, 2, 3], [4])],
    };
    const advantages = computeAdvantages(
      [
        { ...base, group: 0, return: 1 },
        { ...base, group: 0, return: 0 },
        { ...base, group: 1, return: 1 },
      ],
      { advantage: 'grpo', alpha: 1, gamma: 1, igNormalization: 'joint' },
    );
    expect(advantages[0]!.map((a) => Math.round(a * 1000) / 1000)).toEqual([1, 1]);
    expect(advantages[1]!.map((a) => Math.round(a * 1000) / 1000)).toEqual([-1, -1]);
    expect(advantages[2]).toEqual([0, 0]);
  });

  it("with formatPenaltyOn 'turn', a group without a success pushes its malformed turns down and nothing up", () => {
    const malformed = { ...turn([1], [2]), rewards: { informationGain: 0, format: -0.1, env: 0 } };
    const wellFormed = turn([1, 2, 3], [4]);
    const base = { prompt: '', seed: 0, truncated: false, group: 0, success: false, return: 0 };
    // Three failures, one with a malformed first turn.
    const failures = [
      { ...base, turns: [malformed, wellFormed] },
      { ...base, turns: [wellFormed, wellFormed] },
      { ...base, turns: [wellFormed, wellFormed] },
    ];
    const options = { advantage: 'grpo', alpha: 1, gamma: 1, igNormalization: 'joint' } as const;
    const round = (values: number[][]) => values.map((row) => row.map((a) => Math.round(a * 1000) / 1000 + 0));
    // 'return': returns -0.1, 0, 0 z-score to -1.414, 0.707, 0.707: the well-formed failures are pushed up.
    expect(round(computeAdvantages(failures, options))).toEqual([
      [-1.414, -1.414],
      [0.707, 0.707],
      [0.707, 0.707],
    ]);
    // 'turn': outcomes all 0 z-score to 0; only the malformed turn gets the penalty.
    expect(round(computeAdvantages(failures, { ...options, formatPenaltyOn: 'turn' }))).toEqual([
      [-0.1, 0],
      [0, 0],
      [0, 0],
    ]);
    // With a success in the group the outcome's z-score comes first and the penalty is added to its turn.
    const mixed = [
      ...failures.slice(0, 2),
      { ...base, success: true, return: 1, turns: [wellFormed, wellFormed] },
      failures[2]!,
    ];
    expect(round(computeAdvantages(mixed, { ...options, formatPenaltyOn: 'turn' }))).toEqual([
      [-0.677, -0.577],
      [-0.577, -0.577],
      [1.732, 1.732],
      [-0.577, -0.577],
    ]);
  });

  it("with outcomeReward 'success', z-scores solved / not solved instead of the env's partial credit", () => {
    const base = { prompt: '', seed: 0, truncated: false, group: 0, turns: [turn([1], [2])] };
    // Tests passed 0.9 / 1 / 0.5 / 0.9: only the second solved the task.
    const group = [
      { ...base, return: 0.9, success: false },
      { ...base, return: 1, success: true },
      { ...base, return: 0.5, success: false },
      { ...base, return: 0.9, success: false },
    ];
    const options = { advantage: 'grpo', alpha: 1, gamma: 1, igNormalization: 'joint' } as const;
    const round = (values: number[][]) => values.map(([a]) => Math.round(a! * 1000) / 1000 + 0);
    // env: (x - 0.825) / 0.192
    expect(round(computeAdvantages(group, options))).toEqual([0.391, 0.911, -1.692, 0.391]);
    // success: [0, 1, 0, 0], mean 0.25, std 0.433
    expect(round(computeAdvantages(group, { ...options, outcomeReward: 'success' }))).toEqual([
      -0.577, 1.732, -0.577, -0.577,
    ]);
    expect(round(computeAdvantages(group, { ...options, advantage: 'igpo', outcomeReward: 'success' }))).toEqual([
      -0.577, 1.732, -0.577, -0.577,
    ]);
  });

  it('discounts GRPO advantages back from the final turn by gamma and scales negative ones by negativeWeight', () => {
    const base = {
      prompt: '',
      seed: 0,
      success: false,
      truncated: false,
      group: 0,
      turns: [turn([1], [2]), turn([1, 2, 3], [4]), turn([1, 2, 3, 4, 5], [6])],
    };
    const group = [
      { ...base, return: 1 },
      { ...base, return: 0 },
    ];
    const round = (values: number[]) => values.map((a) => Math.round(a * 1000) / 1000 + 0);
    const options = { advantage: 'grpo', alpha: 1, igNormalization: 'joint' } as const;
    expect(computeAdvantages(group, { ...options, gamma: 0 }).map(round)).toEqual([
      [0, 0, 1],
      [0, 0, -1],
    ]);
    expect(computeAdvantages(group, { ...options, gamma: 0.5 }).map(round)).toEqual([
      [0.25, 0.5, 1],
      [-0.25, -0.5, -1],
    ]);
    expect(computeAdvantages(group, { ...options, gamma: 1, negativeWeight: 0.25 }).map(round)).toEqual([
      [1, 1, 1],
      [-0.25, -0.25, -0.25],
    ]);
    // gamma 0: only the final turn is trained
    expect(
      trainingExamples(group, computeAdvantages(group, { ...options, gamma: 0 })).map((e) => e.trajectoryTokens),
    ).toEqual([1, 1]);
  });
});

describe('curricula', () => {
  it('keeps a fixed horizon', () => {
    expect([0, 10, 1000].map((s) => horizonAt({ kind: 'fixed', maxTurns: 7 }, s))).toEqual([7, 7, 7]);
  });

  it('steps through ScalingInter stages and stays on the last', () => {
    const curriculum = parseCurriculum('scaling-inter:5,8,10@100');
    expect([0, 99, 100, 199, 200, 5000].map((s) => horizonAt(curriculum, s))).toEqual([5, 5, 8, 8, 10, 10]);
  });

  it("reproduces TTI's published schedule (10, then 20 in iterations 2-3, then 30)", () => {
    const curriculum = parseCurriculum('tti:10+10..30@1');
    expect([0, 1, 2, 3, 4, 7, 100].map((s) => horizonAt(curriculum, s))).toEqual([10, 20, 20, 30, 30, 30, 30]);
  });

  it('explains a curriculum it cannot read', () => {
    expect(() => parseCurriculum('linear:5')).toThrow("Cannot read curriculum 'linear:5'");
  });
});
