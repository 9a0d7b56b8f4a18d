import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMetrics } from '../../src/rl/metrics.js';
import { RunDirectory, readTrajectories } from '../../src/rl/run-directory.js';
import { TensorBoardWriter, readEvents } from '../../src/rl/tensorboard.js';
import { fixtureRoot, writeFixtureRun } from './run-fixture.js';

const root = fixtureRoot();
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('RunDirectory.truncateAfter', () => {
  it("drops every record of a step after the checkpoint's, and a last line or event cut short, from each per-step file", async () => {
    const dir = writeFixtureRun(root, 'killed', { steps: 6 }); // metrics of steps 0 to 5
    const events = new TensorBoardWriter(dir);
    for (let step = 1; step <= 6; step++) events.scalars(step, { 'charts/success_rate': step / 10 });
    events.close();
    // The state a kill while the trainer appended step 7's records leaves (constructed): half a line of
    // trajectories.jsonl, after step 7's whole metrics line (metrics are written first).
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      `${readFileSync(join(dir, 'metrics.jsonl'), 'utf8')}{"step":7,"time":70}\n`,
    );
    const trajectoryLines = readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').trimEnd().split('\n');
    writeFileSync(
      join(dir, 'trajectories.jsonl'),
      `${trajectoryLines.join('\n')}\n${trajectoryLines.at(-1)!.slice(0, 80)}`,
    );
    const trajectoriesBefore = readTrajectories(join(dir, 'trajectories.jsonl'));
    const beforeStep = (step: number) => trajectoriesBefore.filter((t) => t.step <= step).length;

    const dropped = await new RunDirectory(dir).truncateAfter(4);
    expect(dropped).toEqual([
      '2 lines of metrics.jsonl',
      `${trajectoriesBefore.length - beforeStep(4) + 1} lines of trajectories.jsonl`,
      `2 events of ${events.path.slice(dir.length + 1)}`,
    ]);
    const metrics = readMetrics(join(dir, 'metrics.jsonl'));
    expect(metrics.records.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    expect(metrics.skippedLines).toBe(0);
    const notes: string[] = [];
    expect(readTrajectories(join(dir, 'trajectories.jsonl'), notes)).toEqual(
      trajectoriesBefore.filter((t) => t.step <= 4),
    );
    expect(notes).toEqual([]);
    expect(readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').endsWith('}\n')).toBe(true); // the next append starts a line
    expect(readEvents(readFileSync(events.path)).events.map((event) => event.step)).toEqual([0, 1, 2, 3, 4]);
    expect(readdirSync(dir).filter((name) => name.endsWith('.partial'))).toEqual([]);

    // A second call finds nothing to drop and rewrites nothing.
    const modified = statSync(join(dir, 'metrics.jsonl')).mtimeMs;
    expect(await new RunDirectory(dir).truncateAfter(4)).toEqual([]);
    expect(statSync(join(dir, 'metrics.jsonl')).mtimeMs).toBe(modified);
  });

  it('leaves a run without per-step files alone', async () => {
    const dir = join(root, 'empty');
    mkdirSync(dir);
    expect(await new RunDirectory(dir).truncateAfter(0)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('RunDirectory.startNew', () => {
  it('refuses a directory that holds a run, in one line naming --resume and --overwrite', async () => {
    const dir = writeFixtureRun(root, 'taken', { steps: 3 });
    await expect(new RunDirectory(dir).startNew()).rejects.toThrow(
      `${dir} already holds a run (checkpoints/, config.json, eval.json, metrics.jsonl, trajectories.jsonl): continue it with --resume ${dir}, start over with --overwrite (deletes that run's files), or choose another --out.`,
    );
    expect(readdirSync(dir).sort()).toEqual([
      'checkpoints',
      'config.json',
      'eval.json',
      'metrics.jsonl',
      'trajectories.jsonl',
    ]);
  });

  it("with overwrite, deletes the old run's files and nothing else", async () => {
    const dir = writeFixtureRun(root, 'overwritten', { steps: 3 });
    const events = new TensorBoardWriter(dir);
    events.scalars(1, { 'charts/success_rate': 0.5 });
    events.close();
    writeFileSync(join(dir, 'report.html'), '<html></html>');
    writeFileSync(join(dir, 'metrics.jsonl.partial'), '{"step":');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await new RunDirectory(dir).startNew({ overwrite: true });
    expect(readdirSync(dir).sort()).toEqual(['checkpoints', 'notes.txt']);
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual([]);
  });

  it('takes a new directory, an empty one, or one a run left with an empty checkpoints/ when it failed before any', async () => {
    const fresh = join(root, 'fresh', 'run');
    await new RunDirectory(fresh).startNew();
    expect(readdirSync(fresh)).toEqual(['checkpoints']);
    await new RunDirectory(fresh).startNew(); // what a run that failed at its start leaves
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    await expect(new RunDirectory(file).startNew()).rejects.toThrow(
      `--out ${file} is a file, not a directory: choose another --out.`,
    );
  });
});
