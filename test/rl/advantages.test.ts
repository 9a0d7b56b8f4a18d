import { describe, expect, it } from 'vitest';
import { discountedReturns, grpoAdvantages, igpoAdvantages, zScores } from '../../src/rl/advantages.js';
import { horizonAt, parseCurriculum } from '../../src/rl/curriculum.js';
import { isFormatError } from '../../src/core/errors.js';
import { formatPenalty, informationGain } from '../../src/rl/rewards.js';

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
    expect(['UNPARSABLE_ACTION', 'UNKNOWN_TOOL', 'INVALID_ARGS', 'ACTION_TOO_LARGE', 'TOOL_ERROR', undefined].map(isFormatError)).toEqual([true, true, true, true, false, false]);
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
