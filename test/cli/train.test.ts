import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../../src/rl/metrics.js';
import { runCli } from './helpers.js';

/** A tiny guess-number run on the cpu backend: a few seconds a step. */
const TINY = [
  ...['--env', 'puzzle/guess-number-v0', '--difficulty', '1', '--backend', 'cpu', '--advantage', 'grpo'],
  ...[
    '--model',
    '{"layers":1,"width":32,"heads":2,"contextLength":128}',
    '--curriculum',
    '{"kind":"fixed","maxTurns":3}',
  ],
  ...[
    '--tasks-per-step',
    '2',
    '--group-size',
    '2',
    '--max-action-tokens',
    '8',
    '--eval-episodes',
    '0',
    '--checkpoint-every',
    '0',
  ],
];

/** The last line of standard error, after checking that it holds no stack trace. */
function lastLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines.filter((line) => /^\s+at /.test(line))).toEqual([]);
  return lines.at(-1)!;
}

describe('turngym train --out', () => {
  it(
    'refuses a directory that holds a run (naming --resume and --overwrite), and --overwrite starts over',
    { timeout: 300_000 },
    async () => {
      const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-cli-')), 'run');
      const first = await runCli(['train', ...TINY, '--eval-episodes', '2', '--steps', '2', '--out', out], {
        timeoutMs: 240_000,
      });
      expect(first.code, first.stderr).toBe(0);
      // Without a terminal, each long phase says when it starts (on one, it has a bar).
      expect(first.stderr).toContain('\n[train] fitting the tokenizer: playing the oracle: 256 episodes ...\n');
      expect(
        first.stderr.split('\n').filter((line) => line === '[train] held-out evaluation: 2 episodes ...'),
      ).toHaveLength(2); // before and after
      // The cpu backend is named once, without tfjs's banner urging tfjs-node.
      expect(first.stderr).toContain('[policy] TensorFlow.js backend: using cpu; requested\n');
      expect(first.stderr).not.toContain('Hi, looks like you are running TensorFlow.js');

      const [again, both, none] = await Promise.all([
        runCli(['train', ...TINY, '--steps', '1', '--out', out], { timeoutMs: 120_000 }),
        runCli(['train', '--resume', out, '--overwrite'], { timeoutMs: 120_000 }),
        runCli(['train', ...TINY, '--steps', '0', '--out', join(out, '..', 'never-written')], { timeoutMs: 120_000 }),
      ]);
      expect(again.code).toBe(2);
      expect(lastLine(again.stderr)).toBe(
        `turngym: ${out} already holds a run (checkpoints/, config.json, eval.json, metrics.jsonl, report.html, trajectories.jsonl): continue it with --resume ${out}, start over with --overwrite (deletes that run's files), or choose another --out.`,
      );
      expect(both.code).toBe(2);
      expect(lastLine(both.stderr)).toBe(
        `turngym: --resume continues the run in ${out} and --overwrite deletes it: give one of them.`,
      );
      expect(none.code).toBe(2);
      expect(lastLine(none.stderr)).toBe(
        'turngym: Invalid training options: --steps: must be at least 1 (RL steps to train; to only evaluate a checkpoint, use turngym eval).',
      );
      expect(readMetrics(join(out, 'metrics.jsonl')).records.map((record) => record.step)).toEqual([1, 2]);

      const over = await runCli(['train', ...TINY, '--steps', '1', '--out', out, '--overwrite'], {
        timeoutMs: 240_000,
      });
      expect(over.code, over.stderr).toBe(0);
      expect(readMetrics(join(out, 'metrics.jsonl')).records.map((record) => record.step)).toEqual([1]);
      expect(await readdir(join(out, 'checkpoints'))).toEqual(['latest.json', 'step-000001']);
    },
  );
});

describe('turngym train --kwargs', () => {
  it('takes the env kwargs as --kwargs, as run, sft and eval do; --env-kwargs still works for a release, with a notice', async () => {
    const [kwargs, old, both] = await Promise.all([
      runCli(
        [
          'train',
          ...TINY,
          '--kwargs',
          '{"colour":1}',
          '--steps',
          '1',
          '--out',
          join(tmpdir(), 'turngym-never-written-kwargs'),
        ],
        { timeoutMs: 120_000 },
      ),
      runCli(
        [
          'train',
          ...TINY,
          '--env-kwargs',
          '{"colour":1}',
          '--steps',
          '1',
          '--out',
          join(tmpdir(), 'turngym-never-written-kwargs'),
        ],
        { timeoutMs: 120_000 },
      ),
      runCli(['train', ...TINY, '--env-kwargs', '{}', '--kwargs', '{}'], { timeoutMs: 120_000 }),
    ]);
    // Both reach make(), which names the unknown kwarg: the flag was read.
    for (const result of [kwargs, old]) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        "turngym: Invalid arguments for 'puzzle/guess-number-v0':\n  - colour: unknown argument; 'puzzle/guess-number-v0' accepts 'difficulty'\n",
      );
    }
    expect(old.stderr).toContain(
      'turngym train: --env-kwargs is now --kwargs, as in run, sft and eval; the old name goes in a later release.\n',
    );
    expect(kwargs.stderr).not.toContain('--env-kwargs');
    expect(both.code).toBe(2);
    expect(lastLine(both.stderr)).toBe('turngym: Give --kwargs only: --env-kwargs is its old name.');
  });
});
