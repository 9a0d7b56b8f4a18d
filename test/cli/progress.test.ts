import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { EvaluationReport } from '../../src/agent/policy/evaluate.js';
import { outcomeLines, Progress, TrainingProgress } from '../../src/cli/progress.js';

/** A stream that keeps what is written to it, as a terminal (`isTTY`) or as a file or pipe. */
function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 120 });
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

describe('Progress', () => {
  it('shows a bar while a long phase runs on a terminal (it draws ten times a second)', async () => {
    const terminal = capture(true);
    const progress = new TrainingProgress(12, terminal.stream);
    progress.phase('tokenizer text', 0, 256);
    progress.phase('tokenizer text', 64, 256);
    await sleep(250);
    progress.phase('tokenizer text', 256, 256);
    progress.phase('held-out evaluation', 0, 40);
    progress.phase('held-out evaluation', 10, 40);
    await sleep(250);
    progress.stop();
    expect(terminal.text()).toMatch(/fitting the tokenizer: playing the oracle \|[█░]+\| 64\/256 episodes \| ETA/);
    expect(terminal.text()).toMatch(/held-out evaluation \|[█░]+\| 10\/40 episodes \| ETA/);
  });

  it('prints one line when a phase starts where there is no terminal', () => {
    const file = capture(false);
    const progress = new Progress('sft', file.stream);
    for (const [phase, total] of [
      ['oracle demonstrations', 8],
      ['tokenizer text', 256],
      ['behaviour cloning', 3],
      ['held-out evaluation', 4],
    ] as const) {
      for (let done = 0; done <= total; done++) progress.phase(phase, done, total);
    }
    progress.stop();
    expect(file.text()).toBe(
      '[sft] playing oracle demonstrations: 8 episodes ...\n[sft] fitting the tokenizer: playing the oracle: 256 episodes ...\n[sft] behaviour cloning: 3 steps ...\n[sft] held-out evaluation: 4 episodes ...\n',
    );
  });
});

const report = (success: number, malformed?: number, wellFormedSuccess: number | null = null): EvaluationReport => ({
  env: 'code/functions-v0',
  episodes: 200,
  samples: 1,
  first_seed: 1_000_000,
  split: 'heldout',
  temperature: 0,
  max_turns: 3,
  success_rate: success,
  mean_return: success + 0.1,
  mean_turns: 2,
  format_error_rate: malformed as number,
  well_formed_episodes: 150,
  well_formed_success_rate: wellFormedSuccess,
});

describe('outcomeLines', () => {
  it('prints success, return, turns and malformed turns before and after RL', () => {
    expect(outcomeLines(report(0.25, 0.3, 0.3), report(0.5, 0.04))).toBe(
      'before RL: success 0.250  return 0.350  turns 2.00  malformed turns 0.300 (success 0.300 without one)  (200 held-out episodes)\n' +
        'after RL:  success 0.500  return 0.600  turns 2.00  malformed turns 0.040  (200 held-out episodes)',
    );
  });

  it('adds the paired comparison on the same tasks when there is one', () => {
    const paired = {
      episodes: 200,
      solved_newly: 30,
      solved_no_longer: 8,
      success_p: 0.00046,
      return_higher: 31,
      return_lower: 9,
      return_p: 0.0007,
    };
    expect(outcomeLines(report(0.25), report(0.36), paired).split('\n')[2]).toBe(
      'paired:    tasks solved after RL and not before 30, the reverse 8 (sign test p = 4.6e-4, 200 tasks)',
    );
  });

  it('counts tasks and plays when each task was played several times', () => {
    const sampled = { ...report(0.25, 0.3, 0.3), samples: 4, temperature: 0.6 };
    expect(outcomeLines(sampled, sampled).split('\n')[1]).toBe(
      'after RL:  success 0.250  return 0.350  turns 2.00  malformed turns 0.300 (success 0.300 without one)  (200 held-out tasks, 4 plays each)',
    );
  });

  it('leaves malformed turns out of a report saved before they were counted, and marks a missing report', () => {
    const saved = report(0.25);
    for (const field of ['format_error_rate', 'well_formed_episodes', 'well_formed_success_rate'] as const)
      delete (saved as Partial<EvaluationReport>)[field];
    const lines = outcomeLines(saved, undefined);
    expect(lines).toBe(
      'before RL: success 0.250  return 0.350  turns 2.00  (200 held-out episodes)\nafter RL:  (not evaluated)',
    );
  });
});
