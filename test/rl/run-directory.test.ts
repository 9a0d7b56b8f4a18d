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
    writeFileSync(join(dir, 'metrics.jsonl'), `${readFileSync(join(dir, 'metrics.jsonl'), 'utf8')}{"step":7,"time":70}\n`);
    const trajectoryLines = readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').trimEnd().split('\n');
    writeFileSync(join(dir, 'trajectories.jsonl'), `${trajectoryLines.join('\n')}\n${trajectoryLines.at(-1)!.slice(0, 80)}`);
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
    expect(readTrajectories(join(dir, 'trajectories.jsonl'), notes)).toEqual(trajectoriesBefore.filter((t) => t.step <= 4));
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
