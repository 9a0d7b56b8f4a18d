import { describe, expect, it } from 'vitest';
import { comparePaired, kindsWithVariants, signTest, summarizeByKind } from '../../../src/agent/policy/paired.js';

describe('signTest', () => {
  it('is the exact two-sided binomial tail (hand-computed)', () => {
    expect(signTest(0, 0)).toBe(1);
    expect(signTest(3, 3)).toBe(1);
    expect(signTest(5, 0)).toBeCloseTo(2 / 32, 12); // 2 * (1/2)^5
    expect(signTest(0, 5)).toBeCloseTo(2 / 32, 12);
    expect(signTest(8, 2)).toBeCloseTo((2 * (1 + 10 + 45)) / 1024, 12); // 2 * P(X <= 2), n = 10
    // Large n stays finite and symmetric: 67 / 34 (section 8's paired return counts) is p ~ 0.0013.
    expect(signTest(67, 34)).toBeCloseTo(signTest(34, 67), 12);
    expect(signTest(67, 34)).toBeGreaterThan(0.001);
    expect(signTest(67, 34)).toBeLessThan(0.002);
    expect(signTest(3000, 3000)).toBeCloseTo(1, 6);
  });
});

describe('comparePaired', () => {
  const policy = [
    { success: true, return: 1 },
    { success: true, return: 1 },
    { success: false, return: 0.5 },
    { success: false, return: 0.2 },
    { success: true, return: 1 },
  ];
  const baseline = [
    { success: false, return: 0.4 },
    { success: true, return: 1 },
    { success: true, return: 1 },
    { success: false, return: 0.1 },
    { success: false, return: 0.9 },
  ];

  it('counts discordant successes and higher / lower returns task by task', () => {
    expect(comparePaired(policy, baseline)).toEqual({
      episodes: 5,
      solved_newly: 2,
      solved_no_longer: 1,
      success_p: 1, // 2 : 1 is no evidence
      return_higher: 3,
      return_lower: 1,
      return_p: 0.625, // 2 * (1 + 4) / 16
    });
    expect(() => comparePaired(policy, baseline.slice(1))).toThrow(
      /5 episodes against 4; both must play the same tasks/,
    );
  });

  it('with several plays a task, compares the fraction of plays solved and the mean return, task by task', () => {
    // Three tasks x two plays, task-major: task 0 solved 2/2 against 1/2, task 1 1/2 against 1/2 (a tie,
    // though the plays differ), task 2 0/2 against 1/2.
    const play = (success: boolean, value: number, kind?: string) => ({
      success,
      return: value,
      ...(kind ? { kind } : {}),
    });
    const mine = [
      play(true, 1, 'a'),
      play(true, 1, 'a'),
      play(true, 1, 'b'),
      play(false, 0.2, 'b'),
      play(false, 0.5, 'a'),
      play(false, 0.5, 'a'),
    ];
    const theirs = [play(false, 0.6), play(true, 1), play(false, 0.4), play(true, 1), play(true, 1), play(false, 0)];
    const paired = comparePaired(mine, theirs, { samples: 2 });
    // Mean returns: 1 vs 0.8 (higher), 0.6 vs 0.7 (lower), 0.5 vs 0.5 (equal).
    expect(paired).toMatchObject({
      episodes: 3,
      solved_newly: 1,
      solved_no_longer: 1,
      success_p: 1,
      return_higher: 1,
      return_lower: 1,
    });
    expect(paired.by_kind!.a).toMatchObject({
      episodes: 2,
      solved_newly: 1,
      solved_no_longer: 1,
      return_higher: 1,
      return_lower: 0,
    });
    expect(paired.by_kind!.b).toMatchObject({
      episodes: 1,
      solved_newly: 0,
      solved_no_longer: 0,
      return_higher: 0,
      return_lower: 1,
    });
    // Played once each, the same outcomes are six tasks.
    expect(comparePaired(mine, theirs)).toMatchObject({ episodes: 6, solved_newly: 2, solved_no_longer: 2 }); // plays 0, 2 against 3, 4
    expect(() => comparePaired(mine, theirs, { samples: 4 })).toThrow(
      /6 episodes are not a whole number of tasks at 4 plays a task/,
    );
  });

  it("compares within each kind of task when the policy's outcomes name kinds", () => {
    const kinds = ['roman', 'chunk', 'roman', 'chunk', 'roman'];
    // The baseline's outcomes need no kinds (an older saved report): the i-th is the same task.
    const paired = comparePaired(
      policy.map((outcome, i) => ({ ...outcome, kind: kinds[i] })),
      baseline,
    );
    expect(paired).toMatchObject({
      episodes: 5,
      solved_newly: 2,
      solved_no_longer: 1,
      return_higher: 3,
      return_lower: 1,
    });
    expect(Object.keys(paired.by_kind!)).toEqual(['chunk', 'roman']); // alphabetical
    // chunk: tasks 1 and 3: the same successes; the return higher on task 3.
    expect(paired.by_kind!.chunk).toEqual({
      episodes: 2,
      solved_newly: 0,
      solved_no_longer: 0,
      success_p: 1,
      return_higher: 1,
      return_lower: 0,
      return_p: 1,
    });
    // roman: tasks 0, 2, 4: solved newly 0 and 4, no longer 2; returns higher on 0 and 4, lower on 2.
    expect(paired.by_kind!.roman).toEqual({
      episodes: 3,
      solved_newly: 2,
      solved_no_longer: 1,
      success_p: 1,
      return_higher: 2,
      return_lower: 1,
      return_p: 1,
    });
    expect(comparePaired(baseline, policy).by_kind).toBeUndefined(); // kinds come from the first argument
  });

  it('summarises success and return per kind, or per kind and variant', () => {
    const outcomes = [
      { success: true, return: 1, kind: 'roman', variant: 'lower=true' },
      { success: false, return: 0.5, kind: 'roman', variant: 'lower=false' },
      { success: false, return: 0, kind: 'chunk', variant: 'size=3' },
      { success: true, return: 1, kind: 'roman', variant: 'lower=false' },
    ];
    expect(summarizeByKind(outcomes)).toEqual({
      chunk: { episodes: 1, success_rate: 0, mean_return: 0 },
      roman: { episodes: 3, success_rate: 2 / 3, mean_return: 2.5 / 3 },
    });
    expect(summarizeByKind(kindsWithVariants(outcomes))).toEqual({
      'chunk size=3': { episodes: 1, success_rate: 0, mean_return: 0 },
      'roman lower=false': { episodes: 2, success_rate: 0.5, mean_return: 0.75 },
      'roman lower=true': { episodes: 1, success_rate: 1, mean_return: 1 },
    });
    expect(summarizeByKind(policy)).toBeUndefined(); // no kinds, no breakdown
  });
});
