import { describe, expect, it } from 'vitest';
import { computeAdvantages } from '../../src/rl/advantages.js';
import { groupShares } from '../../src/rl/metrics.js';
import { played } from './trajectory-fixture.js';

describe('groupShares', () => {
  it('counts the groups that give no policy gradient, those solved in every sample and those solved in any', () => {
    // Group 0 all solved, group 1 all failed, group 2 mixed, group 3 a lone trajectory.
    const trajectories = [
      played(0, true),
      played(0, true),
      played(1, false),
      played(1, false),
      played(2, true),
      played(2, false),
      played(3, true),
    ];
    const advantages = computeAdvantages(trajectories, {
      advantage: 'grpo',
      alpha: 1,
      gamma: 1,
      igNormalization: 'joint',
    });
    expect(groupShares(trajectories, advantages)).toEqual({
      'rollout/zero_advantage_groups': 3 / 4,
      'rollout/solved_groups': 2 / 4,
      'rollout/any_success_groups': 3 / 4,
    });
  });
});
