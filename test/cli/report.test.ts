import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureRoot, writeFixtureRun } from '../rl/run-fixture.js';
import { runCli } from './helpers.js';

const root = fixtureRoot();
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('turngym report', () => {
  it('regenerates a run report and overlays compared runs', async () => {
    const dir = writeFixtureRun(root, 'cli-run');
    const other = writeFixtureRun(root, 'cli-other', { seed: 3, learning: 0.5 });
    const result = await runCli(['report', dir, '--compare', other]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const path = join(dir, 'report.html');
    expect(result.stdout).toBe(
      `wrote ${path} comparing cli-run, cli-other: 11 plots, 32 trajectories\nopen ${pathToFileURL(path).href}\n`,
    );
    const html = readFileSync(path, 'utf8');
    expect(html).toContain('cli-other');
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(11);
  });

  it('reports a crashed run with notes on stderr and names the plots it left out', async () => {
    const dir = writeFixtureRun(root, 'cli-crashed', { without: ['config', 'metrics'] });
    appendFileSync(
      join(dir, 'metrics.jsonl'),
      '{"step":0,"time":1,"charts/success_rate":0.25}\n{"step":1,"time":2,"charts/succ',
    );
    const result = await runCli(['report', dir]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      "turngym: note: cli-crashed: config.json is missing: the run's options are unknown.\n" +
        'turngym: note: cli-crashed: metrics.jsonl: 1 line could not be read and was skipped (a line cut short by a crash, or not JSON).\n',
    );
    expect(result.stdout).toContain(
      ': 2 plots (left out, not logged: episodic return, policy entropy, covariance of log-prob and advantage, clip fraction, kl to the rollout policy, horizon schedule, turns per episode, information gain, tokens per second), 16 trajectories',
    );
  });

  it('exits with code 2 and a clear message for an unknown run path', async () => {
    const missing = join(root, 'typo-run');
    const result = await runCli(['report', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `turngym: No run directory at '${missing}' (${missing} does not exist). Give the path of a run, e.g. runs/quickstart.\n`,
    );
    const compared = await runCli(['report', writeFixtureRun(root, 'cli-ok'), '--compare', missing]);
    expect(compared.code).toBe(2);
    expect(compared.stderr).toContain(`turngym: No run directory at '${missing}'`);
    const none = await runCli(['report']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("error: missing required argument 'run-dir'");
  });
});

describe('turngym export-trajectories', () => {
  it('writes chat-format JSONL to stdout, and to a file with --success-only', async () => {
    const dir = writeFixtureRun(root, 'cli-export');
    const all = await runCli(['export-trajectories', dir, '--format', 'messages']);
    expect(all.code).toBe(0);
    expect(all.stderr).toBe('exported 16 of 16 trajectories\n');
    const lines = all.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { messages: { role: string; content: string }[] });
    expect(lines).toHaveLength(16);
    for (const { messages } of lines) {
      expect(Object.keys(messages[0]!)).toEqual(['role', 'content']);
      expect(messages.map((message) => message.role).slice(0, 3)).toEqual(['system', 'user', 'assistant']);
      expect(messages.at(-1)!.role).toBe('assistant');
      expect(messages[0]!.content).toContain('- search: search(query: string, k?: number)');
    }

    const out = join(root, 'sft.jsonl');
    const successes = await runCli(['export-trajectories', dir, '--success-only', '--out', out]);
    expect(successes.code).toBe(0);
    expect(successes.stdout).toBe('');
    const kept = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(successes.stderr).toBe(
      `exported ${kept.length} of 16 trajectories (${16 - kept.length} failures left out by --success-only) to ${out}\n`,
    );
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(16);
    for (const line of kept)
      expect((JSON.parse(line) as { messages: { content: string }[] }).messages.at(-1)!.content).not.toContain('Riga');
  });

  it('exits quietly with code 0 when the reader closes standard output early (| head)', async () => {
    const dir = writeFixtureRun(root, 'cli-export-head');
    // 2,048 trajectories, megabytes of JSONL: far more than a pipe holds, so the reader leaves mid-output.
    const lines = readFileSync(join(dir, 'trajectories.jsonl'), 'utf8');
    writeFileSync(join(dir, 'trajectories.jsonl'), lines.repeat(128));
    const result = await runCli(['export-trajectories', dir], { closeStdoutEarly: true });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(0);
  });

  it('explains what is wrong with a run that has no trajectories or a bad format', async () => {
    const dir = writeFixtureRun(root, 'cli-no-trajectories', { without: ['trajectories'] });
    const result = await runCli(['export-trajectories', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `turngym: note: trajectories.jsonl is missing: no trajectories were recorded.\nturngym: ${dir} has no recorded trajectories to export.\n`,
    );
    const format = await runCli(['export-trajectories', dir, '--format', 'sharegpt']);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain(
      "error: option '--format <format>' argument 'sharegpt' is invalid. Allowed choices are messages.",
    );
  });
});

describe('turngym bench report', () => {
  it('runs quickly and prints its figures as JSON', async () => {
    const result = await runCli(['bench', 'report', '--json', '--quick'], { timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({ benchmark: 'report', steps: 200, rounds: 2 });
    expect(figures.tensorboard_vs_jsonl_ratio).toBeGreaterThan(0);
    expect(figures.report_ms).toBeGreaterThan(0);
    expect(figures.report_3_runs_vs_1_ratio).toBeGreaterThan(0);
  }, 120_000);
});
