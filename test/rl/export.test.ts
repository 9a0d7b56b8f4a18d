import { describe, expect, it } from 'vitest';
import { exportTrajectories, trajectoryMessages } from '../../src/rl/export.js';
import type { TrajectoryRecord } from '../../src/rl/trajectories.js';

const record: TrajectoryRecord = {
  step: 3,
  env: 'puzzle/guess-number-v0',
  seed: 7,
  group: 0,
  prompt: 'I am thinking of a number between 1 and 8.',
  tools: [{ name: 'guess', description: 'guess(n: integer): guess the number.' }],
  turns: [
    { action: 'guess(4)', observation: 'higher', reward: 0, format: 0 },
    { action: 'guess(6)', observation: 'correct', reward: 1, format: 0 },
  ],
  outcome: 1,
  success: true,
  return: 1,
  truncated: false,
  max_turns: 5,
};

describe('trajectoryMessages', () => {
  it('turns a trajectory into system, task, then action/observation pairs ending with the last action', () => {
    expect(trajectoryMessages(record)).toEqual([
      {
        role: 'system',
        content:
          'You are an agent solving a task in the environment puzzle/guess-number-v0. Act by calling exactly one tool per turn; you have at most 5 turns.\n\nTools:\n- guess: guess(n: integer): guess the number.',
      },
      { role: 'user', content: 'I am thinking of a number between 1 and 8.' },
      { role: 'assistant', content: 'guess(4)' },
      { role: 'user', content: 'higher' },
      { role: 'assistant', content: 'guess(6)' },
    ]);
  });
});

describe('exportTrajectories', () => {
  it('keeps order, leaves out failures with successOnly and trajectories without turns', () => {
    const failure = { ...record, seed: 8, success: false, outcome: 0 };
    const empty = { ...record, seed: 9, turns: [] };
    const all = exportTrajectories([record, failure, empty]);
    expect(all).toMatchObject({ total: 3, failures: 0, empty: 1 });
    expect(all.lines).toHaveLength(2);
    expect(JSON.parse(all.lines[0]!)).toEqual({ messages: trajectoryMessages(record) });
    const successes = exportTrajectories([record, failure, empty], { successOnly: true });
    expect(successes).toMatchObject({ total: 3, failures: 1, empty: 1 });
    expect(successes.lines).toEqual([all.lines[0]]);
  });
});
