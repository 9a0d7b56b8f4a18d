import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { make } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';
import { runCli } from '../../cli/helpers.js';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'turngym-sft-cli-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('turngym sft / eval / run --agent checkpoint:DIR', () => {
  it('trains a tiny policy, saves it, evaluates it and plays it', async () => {
    const out = join(directory, 'gn');
    const sft = await runCli(
      [
        'sft',
        '--env',
        'puzzle/guess-number-v0',
        '--out',
        out,
        '--episodes',
        '8',
        '--steps',
        '3',
        '--eval-episodes',
        '4',
        '--eval-max-turns',
        '2',
        '--layers',
        '1',
        '--width',
        '32',
        '--heads',
        '2',
        '--context',
        '160',
        '--copy',
        '--copy-previous',
        '1',
        '--copy-ahead',
        '2',
        '--json',
      ],
      { timeoutMs: 120_000 },
    );
    // The optional GPU and native packages are not installed here: said as a fact, not as an error.
    expect(sft.stderr).toContain(
      '[policy] TensorFlow.js backend: using wasm (SIMD on); tfjs-node-gpu and tfjs-node not installed\n',
    );
    expect(sft.code).toBe(0);
    const report = JSON.parse(sft.stdout);
    expect(report).toMatchObject({
      env: 'puzzle/guess-number-v0',
      demonstrations: 8,
      steps: 3,
      heldout: { episodes: 4, first_seed: 1_000_000, max_turns: 2 },
    });
    expect(report.heldout.mean_turns).toBeLessThanOrEqual(2);
    // Each shape flag reaches the model.
    expect(report.model).toMatchObject({
      layers: 1,
      width: 32,
      heads: 2,
      contextLength: 160,
      copy: true,
      copyPrevious: 1,
      copyAhead: 2,
    });
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8'))).toEqual(report);

    const evaluation = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '3',
      '--json',
    ]);
    expect(evaluation.code).toBe(0);
    const summary = JSON.parse(evaluation.stdout);
    expect(summary).toMatchObject({
      checkpoint: out,
      env: 'puzzle/guess-number-v0',
      episodes: 3,
      temperature: 0,
      max_turns: 10,
    });
    expect(summary.mean_turns).toBeGreaterThan(0);
    // A run directory stands for its latest checkpoint (checkpoints/latest.json), as train writes it.
    const run = join(directory, 'run');
    await cp(out, join(run, 'checkpoints', 'step-000003'), { recursive: true });
    await writeFile(join(run, 'config.json'), '{}\n');
    const noLatest = await runCli(['eval', '--checkpoint', run, '--env', 'puzzle/guess-number-v0', '--episodes', '1']);
    expect(noLatest.code).toBe(2);
    expect(noLatest.stderr.trim()).toBe(
      `turngym: ${run} is a run directory with no step checkpoint yet (no ${join(run, 'checkpoints', 'latest.json')}): name a checkpoint folder, e.g. ${join(run, 'checkpoints', 'step-000003')}.`,
    );
    await writeFile(join(run, 'checkpoints', 'latest.json'), '{"step":3,"directory":"step-000003"}\n');
    const fromRun = await runCli([
      'eval',
      '--checkpoint',
      run,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '3',
      '--json',
    ]);
    expect(fromRun.code, fromRun.stderr).toBe(0);
    expect(JSON.parse(fromRun.stdout)).toMatchObject({
      checkpoint: join(run, 'checkpoints', 'step-000003'),
      success_rate: summary.success_rate,
      mean_turns: summary.mean_turns,
    });
    const short = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '3',
      '--max-turns',
      '2',
      '--json',
    ]);
    expect(JSON.parse(short.stdout)).toMatchObject({ episodes: 3, max_turns: 2 });
    expect(JSON.parse(short.stdout).mean_turns).toBeLessThanOrEqual(2);

    // Against itself on the same tasks (greedy): every pair agrees.
    const recorded = join(directory, 'episodes.jsonl');
    const paired = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--baseline',
      out,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '4',
      '--max-turns',
      '3',
      '--record',
      recorded,
      '--json',
    ]);
    expect(paired.code).toBe(0);
    // Only the checkpoint's four episodes are recorded (the baseline plays the same tasks again), each whole.
    const episodes = (await readFile(recorded, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(episodes.map((episode) => episode.seed).sort()).toEqual([1_000_000, 1_000_001, 1_000_002, 1_000_003]);
    for (const episode of episodes) {
      expect(episode.reset.observation.text).toContain('I am thinking of an integer');
      expect(episode.steps.length).toBeGreaterThan(0);
      expect(episode.steps.length).toBeLessThanOrEqual(3);
      expect(['terminated', 'truncated']).toContain(episode.ended);
    }
    const comparison = JSON.parse(paired.stdout);
    expect(comparison.baseline).toMatchObject({
      checkpoint: out,
      episodes: 4,
      max_turns: 3,
      success_rate: comparison.success_rate,
      mean_return: comparison.mean_return,
    });
    expect(comparison.paired).toEqual({
      episodes: 4,
      solved_newly: 0,
      solved_no_longer: 0,
      success_p: 1,
      return_higher: 0,
      return_lower: 0,
      return_p: 1,
    });
    const pairedText = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--baseline',
      out,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '2',
      '--max-turns',
      '2',
    ]);
    expect(pairedText.stdout).toMatch(
      /solved by the checkpoint only: 0, by the baseline only: 0 \(sign test p = 1\.000\)/,
    );

    // A baseline evaluated once and saved (`eval --json` lists every episode's outcome): edited so that the
    // first episode's baseline result differs, the comparison must count that pair.
    expect(comparison.outcomes).toHaveLength(4);
    const savedPath = join(directory, 'baseline.json');
    const edited = structuredClone(comparison);
    const first = edited.outcomes[0];
    edited.outcomes[0] = { success: !first.success, return: first.return - 1 };
    await writeFile(savedPath, JSON.stringify(edited));
    const fromFile = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--baseline',
      savedPath,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '4',
      '--max-turns',
      '3',
      '--json',
    ]);
    expect(fromFile.code).toBe(0);
    const againstFile = JSON.parse(fromFile.stdout);
    expect(againstFile.baseline).toMatchObject({ checkpoint: out, episodes: 4 });
    expect(againstFile.paired).toMatchObject({
      solved_newly: first.success ? 1 : 0,
      solved_no_longer: first.success ? 0 : 1,
      return_higher: 1,
      return_lower: 0,
    });
    const otherTasks = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--baseline',
      savedPath,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '3',
      '--max-turns',
      '3',
    ]);
    expect(otherTasks.code).toBe(2);
    expect(otherTasks.stderr).toContain(
      `--baseline ${savedPath} played other tasks: its episodes is 4, this evaluation's is 3.`,
    );
    await writeFile(savedPath, '{"env": "puzzle/guess-number-v0"}');
    const notAReport = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--baseline',
      savedPath,
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '4',
    ]);
    expect(notAReport.code).toBe(2);
    expect(notAReport.stderr).toContain(`--baseline ${savedPath} is not the output of \`turngym eval --json\``);
    const missing = await runCli([
      'eval',
      '--checkpoint',
      out,
      '--baseline',
      join(directory, 'nowhere'),
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '1',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('does not exist: give a checkpoint directory');

    // Per kind of task, on an env that reports kinds (code/functions-v0: the function's family). The policy
    // knows guess-number only; what it does here does not matter, the report's breakdown does.
    const kindsArgs = [
      'eval',
      '--checkpoint',
      out,
      '--env',
      'code/functions-v0',
      '--episodes',
      '6',
      '--max-turns',
      '1',
    ];
    const byKind = await runCli([...kindsArgs, '--json']);
    expect(byKind.code).toBe(0);
    const kindsReport = JSON.parse(byKind.stdout);
    const env = await make('code/functions-v0');
    const kinds: string[] = [];
    for (let i = 0; i < 6; i++)
      kinds.push((await env.reset({ seed: 1_000_000 + i, options: { split: 'heldout' } })).info.kind!);
    await env.close();
    expect(kindsReport.outcomes.map((outcome: { kind: string }) => outcome.kind)).toEqual(kinds);
    expect(kindsReport.outcomes[0].variant).toMatch(/=/);
    const counts = Object.fromEntries(
      [...new Set(kinds)].map((kind) => [kind, kinds.filter((k) => k === kind).length]),
    );
    expect(
      Object.fromEntries(
        Object.entries(kindsReport.by_kind).map(([kind, summary]) => [
          kind,
          (summary as { episodes: number }).episodes,
        ]),
      ),
    ).toEqual(counts);
    // Against a saved copy with the first task's outcome flipped, by variant: only the first task's
    // kind and variant shows a discordant pair.
    const flipped = structuredClone(kindsReport);
    flipped.outcomes[0] = { success: !flipped.outcomes[0].success, return: flipped.outcomes[0].return };
    await writeFile(savedPath, JSON.stringify(flipped));
    const kindsText = await runCli([...kindsArgs, '--baseline', savedPath, '--by-variant']);
    expect(kindsText.code).toBe(0);
    expect(kindsText.stdout).toContain('by kind: solved by the checkpoint / by the baseline (of n)');
    // Both lines give malformed turns and the success of the episodes without one.
    expect(
      kindsText.stdout.match(/malformed turns \d\.\d{3} · success (\d\.\d{3}|-) in the [0-6] episodes without one/g),
    ).toHaveLength(2);
    const labels: string[] = kindsReport.outcomes.map(
      (outcome: { kind: string; variant: string }) => `${outcome.kind} ${outcome.variant}`,
    );
    const firstSolved = kindsReport.outcomes[0].success;
    for (const label of new Set(labels)) {
      const discordant = label === labels[0] ? (firstSolved ? '1 / 0' : '0 / 1') : '0 / 0';
      const n = labels.filter((other) => other === label).length;
      const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); // variants hold brackets, e.g. pairs=()[]
      expect(kindsText.stdout).toMatch(
        new RegExp(`\\n    ${escaped} +\\d+ / +\\d+ \\(of ${n}\\)  ${discordant} \\(p = `),
      );
    }

    // Several sampled plays of each task (--samples): task-major outcomes, figures over tasks, and a saved
    // baseline must have played as many.
    const greedySamples = await runCli([...kindsArgs, '--samples', '2']);
    expect(greedySamples.code).toBe(2);
    expect(greedySamples.stderr).toContain(
      '--samples 2 plays each task 2 times, which only differs when sampling: add --temperature',
    );
    const sampledArgs = [
      ...kindsArgs.slice(0, -4),
      '--episodes',
      '3',
      '--max-turns',
      '1',
      '--temperature',
      '1',
      '--samples',
      '2',
    ];
    const sampled = await runCli([...sampledArgs, '--json']);
    expect(sampled.code).toBe(0);
    const sampledReport = JSON.parse(sampled.stdout);
    expect(sampledReport).toMatchObject({ episodes: 3, samples: 2, temperature: 1 });
    expect(sampledReport.outcomes).toHaveLength(6);
    for (let task = 0; task < 3; task++)
      expect(sampledReport.outcomes[2 * task + 1].kind).toBe(sampledReport.outcomes[2 * task].kind);
    expect(
      sampledReport.outcomes
        .map((outcome: { kind: string }) => outcome.kind)
        .filter((_: string, i: number) => i % 2 === 0),
    ).toEqual(kinds.slice(0, 3));
    await writeFile(savedPath, JSON.stringify(sampledReport));
    const againstSampled = await runCli([...sampledArgs, '--baseline', savedPath]);
    expect(againstSampled.code).toBe(0);
    expect(againstSampled.stdout).toContain(
      '3 tasks x 2 plays of code/functions-v0, the same tasks for both (sampled at T 1)',
    );
    expect(againstSampled.stdout).toMatch(
      /tasks solved in more plays by the checkpoint: \d, by the baseline: \d \(sign test p = /,
    );
    expect(againstSampled.stdout).toContain(
      'by kind: plays solved / 2 by the checkpoint / by the baseline (of n tasks)',
    );
    const oncePerTask = await runCli([...sampledArgs.slice(0, -2), '--baseline', savedPath]);
    expect(oncePerTask.code).toBe(2);
    expect(oncePerTask.stderr).toContain(
      `--baseline ${savedPath} played other tasks: its samples is 2, this evaluation's is 1.`,
    );

    const played = await runCli([
      'run',
      '--env',
      'puzzle/guess-number-v0',
      '--agent',
      `checkpoint:${out}`,
      '--episodes',
      '1',
      '--max-turns',
      '2',
    ]);
    expect(played.code).toBe(0);
    expect(played.stdout).toContain(`agent checkpoint:${out}`);
    expect(played.stdout).toMatch(/\[1\] > /);

    await writeFile(join(out, 'weights.bin'), 'garbage');
    const broken = await runCli(['eval', '--checkpoint', out, '--env', 'puzzle/guess-number-v0', '--episodes', '1']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(
      /turngym: Cannot load the checkpoint .*: weights\.bin has 7 bytes but weights\.json says \d+: the file is truncated or corrupted\./,
    );
  }, 400_000); // fifteen CLI runs, one of them training; minutes on a loaded 2-core machine

  it('runs the policy benchmark and prints JSON', async () => {
    const result = await runCli(['bench', 'policy', '--json', '--quick'], { timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({ benchmark: 'policy', backend: 'wasm', model: { layers: 2, width: 128, heads: 4 } });
    expect(figures.training.map((row: { batch_tokens: number }) => row.batch_tokens)).toEqual([512, 1024]);
    expect(figures.matmul_ceiling_gflops_per_s).toBeGreaterThan(0);
    expect(figures.sampling.incremental_tokens_per_s).toBeGreaterThan(0);
    expect(figures.sampling.full_recompute_tokens_per_s).toBeGreaterThan(0);
  });
});
