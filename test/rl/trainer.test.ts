import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/agent/policy/backend.js';
import { loadCheckpoint } from '../../src/agent/policy/checkpoint.js';
import { evaluatePolicy } from '../../src/agent/policy/evaluate.js';
import { comparePaired } from '../../src/agent/policy/paired.js';
import '../../src/envs/builtin.js';
import { readMetrics } from '../../src/rl/metrics.js';
import { readRun, readTrajectories, RunDirectory } from '../../src/rl/run-directory.js';
import { TurngymError } from '../../src/core/errors.js';
import { readEvents } from '../../src/rl/tensorboard.js';
import { train } from '../../src/rl/trainer.js';
import { TINY_RUN } from './tiny-run.js';

const tiny = { ...TINY_RUN, entropyControl: 'kl-cov' as const, klCovRatio: 0.2 };

async function weightsOf(directory: string): Promise<Float32Array[]> {
  await initBackend('cpu', () => {});
  const policy = await loadCheckpoint(directory);
  const values = policy.variables.map((variable) => variable.dataSync() as Float32Array);
  policy.dispose();
  return values;
}

/** The checkpoint a run's checkpoints/latest.json names, read as --resume reads it. */
async function latestCheckpoint(runDir: string): Promise<string> {
  return (await new RunDirectory(runDir).latest()).directory;
}

/** Runs test/rl/killed-run.ts: a training run whose process is SIGKILLed once step `killAt` is logged, before its checkpoint. */
function killedRun(
  options: Record<string, unknown>,
  killAt: number,
): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', '--import', 'tsx', 'test/rl/killed-run.ts', JSON.stringify(options), String(killAt)],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ signal, stderr }));
  });
}

/** The steps of the scalar events in a run directory's TensorBoard event files (all of them, sorted). */
async function eventSteps(runDir: string): Promise<number[]> {
  const files = (await readdir(runDir)).filter((name) => name.startsWith('events.out.tfevents.'));
  const steps = await Promise.all(
    files.map(async (file) => readEvents(await readFile(join(runDir, file))).events.map((event) => event.step)),
  );
  return steps
    .flat()
    .filter((step) => step > 0)
    .sort((a, b) => a - b);
}

describe('train', () => {
  it('resumes exactly: 4 straight steps equal 2 + resume + 2 (with a KL penalty to the starting policy)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'turngym-train-'));
    const quiet = { log: () => {} };
    const options = { ...tiny, klCoef: 0.05 }; // the resumed run must penalise against the saved starting policy, not the step-2 one
    await train({ ...options, steps: 4, out: join(root, 'straight') }, quiet);
    await train({ ...options, steps: 2, out: join(root, 'resumed') }, quiet);
    await train({ ...options, steps: 4, out: join(root, 'resumed'), resume: true }, quiet);

    const straight = readMetrics(join(root, 'straight', 'metrics.jsonl')).records;
    const resumed = readMetrics(join(root, 'resumed', 'metrics.jsonl')).records;
    expect(resumed.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    const learning = [
      'charts/success_rate',
      'charts/episodic_return',
      'actor/entropy',
      'actor/pg_loss',
      'actor/ppo_kl',
      'actor/kl_loss',
      'rollout/ig_mean',
    ];
    for (const record of straight) expect(record['actor/kl_loss']).toBeGreaterThan(0); // two epochs: the second moves away from the reference
    expect(await readdir(join(root, 'resumed', 'checkpoints'))).toContain('reference');
    for (let i = 0; i < 4; i++) {
      for (const name of learning) expect(resumed[i]![name], `${name} at step ${i + 1}`).toBe(straight[i]![name]);
    }
    const a = await weightsOf(await latestCheckpoint(join(root, 'straight')));
    const b = await weightsOf(await latestCheckpoint(join(root, 'resumed')));
    expect(a.length).toBe(b.length);
    a.forEach((values, i) => expect(Array.from(b[i]!)).toEqual(Array.from(values)));
  }, 300_000);

  it("resumes a run killed after a step's records were written but before its checkpoint without that step twice (metrics, trajectories, TensorBoard)", async () => {
    const root = await mkdtemp(join(tmpdir(), 'turngym-train-'));
    const options = { ...tiny, steps: 4, checkpointEvery: 1, tensorboard: true };
    await train({ ...options, out: join(root, 'straight') }, { log: () => {} });
    // A real kill: the child process is SIGKILLed once step 3's records are written, before step 3's checkpoint.
    const out = join(root, 'killed');
    const killed = await killedRun({ ...options, out }, 3);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(readMetrics(join(out, 'metrics.jsonl')).records.map((r) => r.step)).toEqual([1, 2, 3]);
    expect(await latestCheckpoint(out)).toBe(join(out, 'checkpoints', 'step-000002'));
    expect(await eventSteps(out)).toEqual([1, 2, 3]);

    const lines: string[] = [];
    await train({ ...options, out, resume: true }, { log: (line) => lines.push(line) });
    const straight = readMetrics(join(root, 'straight', 'metrics.jsonl')).records;
    const resumed = readMetrics(join(out, 'metrics.jsonl')).records;
    expect(resumed.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++)
      expect(resumed[i]!['actor/pg_loss'], `actor/pg_loss at step ${i + 1}`).toBe(straight[i]!['actor/pg_loss']);
    const played = (runDir: string) =>
      readTrajectories(join(runDir, 'trajectories.jsonl')).map((t) => [t.step, t.seed, t.outcome]);
    expect(played(out)).toEqual(played(join(root, 'straight')));
    expect(await eventSteps(out)).toEqual([1, 2, 3, 4]);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\[train\] dropped 1 line of metrics\.jsonl, \d+ lines of trajectories\.jsonl, 1 event of events\.out\.tfevents\./,
      ),
    );
  }, 300_000);

  it('resumes a run killed while it appended a metrics line (the last line cut short)', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    await train({ ...tiny, steps: 2, out }, { log: () => {} });
    // The state a kill in the middle of writing step 3's metrics line leaves, constructed (a kill cannot be
    // timed inside one write): half a line, no newline; step 3 has no trajectories or checkpoint yet.
    await appendFile(join(out, 'metrics.jsonl'), '{"step":3,"time":0.91,"charts/success_rate":0.1666');
    await train({ ...tiny, steps: 4, out, resume: true }, { log: () => {} });
    expect(readMetrics(join(out, 'metrics.jsonl'))).toMatchObject({
      records: [{ step: 1 }, { step: 2 }, { step: 3 }, { step: 4 }],
      skippedLines: 0,
    });
    const run = readRun(out);
    expect(run.metrics.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(run.notes).toEqual([]);
  }, 300_000);

  it('writes a run directory with stable metric names, trajectories and checkpoints', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    const result = await train(
      {
        ...tiny,
        steps: 2,
        checkpointEvery: 1,
        evalEpisodes: 4,
        curriculum: { kind: 'scaling-inter', stages: [2, 4], every: 1 },
        out,
      },
      { log: () => {} },
    );
    expect(result).toMatchObject({ steps: 2, stoppedBy: 'done' });
    expect(result.before?.episodes).toBe(4);
    expect(result.after?.episodes).toBe(4);
    const { records } = readMetrics(join(out, 'metrics.jsonl'));
    expect(records.map((r) => r['rollout/max_turns'])).toEqual([2, 4]);
    expect(records.map((r) => [r['rollout/sample_rounds'], r['rollout/trained_groups']])).toEqual([
      [1, 2],
      [1, 2],
    ]); // no dynamic sampling: one round, every group
    for (const name of [
      'charts/success_rate',
      'charts/episodic_return',
      'actor/entropy',
      'actor/cov_mean',
      'actor/pg_clipfrac',
      'actor/ppo_kl',
      'rollout/turns_mean',
      'rollout/zero_advantage_groups',
      'rollout/solved_groups',
      'rollout/any_success_groups',
      'rollout/sample_rounds',
      'rollout/trained_groups',
      'perf/tokens_per_s',
      'perf/env_steps_per_s',
    ]) {
      expect(records[0], name).toHaveProperty([name]);
    }
    expect(Math.max(...records.map((r) => r['rollout/turns_mean']!))).toBeLessThanOrEqual(4);
    const trajectories = (await readFile(join(out, 'trajectories.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(trajectories[0]).toMatchObject({ step: 1, env: 'puzzle/guess-number-v0', max_turns: 2 });
    expect(trajectories[0].turns[0]).toHaveProperty('information_gain');
    expect(await readdir(join(out, 'checkpoints'))).toEqual(['latest.json', 'step-000001', 'step-000002']);
    // Held-out episodes play at the horizon the curriculum ends on (4), not the env's (10).
    expect(JSON.parse(await readFile(join(out, 'eval.json'), 'utf8'))).toMatchObject({
      before: { episodes: 4, max_turns: 4 },
      after: { episodes: 4, max_turns: 4 },
    });
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({
      env: 'puzzle/guess-number-v0',
      advantage: 'igpo',
    });
  }, 300_000);

  it('samples new tasks until a step has tasksPerStep groups with a policy gradient (dynamic sampling)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'turngym-train-'));
    const options = { ...tiny, entropyControl: 'none' as const, tasksPerStep: 3, steps: 2, maxSampleRounds: 3 };
    const roundsAndGroups = async (name: string, extra: Record<string, unknown>) => {
      const result = await train({ ...options, ...extra, out: join(root, name) }, { log: () => {} });
      expect(result.stoppedBy).toBe('done');
      return readMetrics(join(root, name, 'metrics.jsonl')).records.map((r) => [
        r['rollout/sample_rounds'],
        r['rollout/trained_groups'],
        r['rollout/zero_advantage_groups'],
      ]);
    };
    // GRPO: the untrained policy's actions all fail alike, so no group has a gradient: every round is sampled,
    // the rollout figures cover all 9 groups, and the update gets none (the run goes on).
    expect(await roundsAndGroups('grpo', { advantage: 'grpo' })).toEqual([
      [3, 0, 1],
      [3, 0, 1],
    ]);
    // IGPO: information-gain turn rewards give every group a gradient: one round is enough.
    expect(await roundsAndGroups('igpo', { advantage: 'igpo' })).toEqual([
      [1, 3, 0],
      [1, 3, 0],
    ]);
  }, 300_000);

  it('notes when RL from --init runs at a larger learning rate than the checkpoint ended its training at', async () => {
    const root = await mkdtemp(join(tmpdir(), 'turngym-train-'));
    await train({ ...tiny, steps: 1, checkpointEvery: 1, out: join(root, 'start') }, { log: () => {} }); // ends at 3e-3
    const init = await latestCheckpoint(join(root, 'start'));
    const notes = async (learningRate: number) => {
      const lines: string[] = [];
      await train(
        { ...tiny, init, learningRate, steps: 1, out: join(root, `from-${learningRate}`) },
        { log: (line) => lines.push(line) },
      );
      return lines.filter((line) => line.startsWith('[train] note: --learning-rate'));
    };
    expect(await notes(0.01)).toEqual([
      expect.stringContaining(`--learning-rate 0.01 is above the rate ${init} ended its training at (0.00300)`),
    ]);
    expect(await notes(0.003)).toEqual([]);
    expect(await notes(0.001)).toEqual([]);
  }, 300_000);

  it('refuses options that would do nothing (several greedy plays of a task; format-penalty-on with IGPO) before it trains anything', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    await expect(train({ ...tiny, steps: 1, evalEpisodes: 2, evalSamples: 3, out }, { log: () => {} })).rejects.toThrow(
      '--eval-samples 3 at --eval-temperature 0 would play the same greedy episode 3 times; set --eval-temperature above 0',
    );
    await expect(train({ ...tiny, steps: 1, formatPenaltyOn: 'turn', out }, { log: () => {} })).rejects.toThrow(
      '--format-penalty-on turn is for --advantage grpo: IGPO already puts',
    );
    await expect(readFile(join(out, 'config.json'), 'utf8')).rejects.toThrow('ENOENT');
  });

  it('scores a warm start at the same horizon, temperature and plays per task as the policy after RL', async () => {
    const lines: string[] = [];
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    const result = await train(
      {
        ...tiny,
        steps: 1,
        warmStartSteps: 2,
        warmStartEpisodes: 4,
        warmStartBatchTokens: 512,
        warmStartLearningRate: 1e-3,
        numbers: 'digits',
        evalEpisodes: 2,
        evalTemperature: 0.7,
        evalSamples: 3,
        curriculum: { kind: 'fixed', maxTurns: 2 },
        out,
      },
      { log: (line) => lines.push(line) },
    );
    // Two tasks, three plays of each: six episodes, of which the well-formed ones are counted.
    for (const report of [result.before, result.after]) {
      expect(report).toMatchObject({ episodes: 2, samples: 3, max_turns: 2, temperature: 0.7 });
      expect(report!.well_formed_episodes).toBeLessThanOrEqual(6);
    }
    expect(
      lines.filter(
        (line) =>
          line.includes('held-out after training') &&
          line.includes('(2 episodes, sampled at T 0.7, 3 plays each, at most 2 turns)'),
      ),
    ).toHaveLength(1);
    expect(
      lines.filter((line) => line.startsWith('[sft] held-out success') && line.includes(' over 2 tasks x 3 plays ')),
    ).toHaveLength(1);
    // The warm start ran with the behaviour-cloning settings given (its checkpoint records them).
    const warm = JSON.parse(await readFile(join(out, 'checkpoints', 'warm-start', 'config.json'), 'utf8'));
    expect(warm.metadata.sft).toMatchObject({ steps: 2, demonstrations: 4, batch_tokens: 512, learning_rate: 1e-3 });
    expect(JSON.parse(await readFile(join(out, 'checkpoints', 'warm-start', 'tokenizer.json'), 'utf8'))).toMatchObject({
      version: 2,
      numbers: 'digits',
    });
  }, 300_000);

  it('compares the policy after RL with the one before on the same held-out tasks, paired, also when resumed', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    const options = {
      ...tiny,
      warmStartSteps: 3,
      warmStartEpisodes: 8,
      warmStartBatchTokens: 512,
      evalEpisodes: 24,
      out,
    };
    const lines: string[] = [];
    const first = await train({ ...options, steps: 1 }, { log: (line) => lines.push(line) });
    const resumed = await train({ ...options, steps: 2, resume: true }, { log: (line) => lines.push(line) });
    // Independently: both checkpoints played on the same tasks, compared task by task.
    await initBackend('cpu', () => {});
    const outcomesOf = async (checkpoint: string) => {
      const policy = await loadCheckpoint(checkpoint);
      try {
        return (await evaluatePolicy(policy, tiny.env, { episodes: 24, kwargs: { difficulty: 1 }, maxTurns: 3 }))
          .outcomes;
      } finally {
        policy.dispose();
      }
    };
    const before = await outcomesOf(join(out, 'checkpoints', 'warm-start'));
    expect(first.paired).toEqual(comparePaired(await outcomesOf(join(out, 'checkpoints', 'step-000001')), before));
    const expected = comparePaired(await outcomesOf(join(out, 'checkpoints', 'step-000002')), before);
    expect(resumed.paired).toEqual(expected); // the episodes before were read back from eval.json
    expect(resumed.paired!.episodes).toBe(24);
    expect(resumed.paired!.solved_newly - resumed.paired!.solved_no_longer).toBe(
      Math.round(24 * (resumed.after!.success_rate! - first.before!.success_rate!)),
    );
    expect(JSON.parse(await readFile(join(out, 'eval.json'), 'utf8')).paired).toEqual(expected);
    expect(lines.filter((line) => line.startsWith('[train] paired, on the same 24 held-out tasks: '))).toHaveLength(2);
    // Resumed with other evaluation tasks (fewer episodes; the same seeds at another difficulty): no comparison,
    // none left in eval.json from before, and one line saying why.
    for (const [changed, why] of [
      [{ steps: 3, evalEpisodes: 12 }, 'episodes: 24 against 12'],
      [{ steps: 4, difficulty: 2 }, 'kwargs: {"difficulty":1} against {"difficulty":2}'],
    ] as const) {
      const other = await train({ ...options, ...changed, resume: true }, { log: (line) => lines.push(line) });
      expect(other.paired).toBeUndefined();
      expect(lines).toContain(
        `[train] no paired comparison: the evaluation before training played other tasks (${why})`,
      );
      expect(JSON.parse(await readFile(join(out, 'eval.json'), 'utf8'))).not.toHaveProperty('paired');
    }
  }, 300_000);

  it('scores information gain when the answer is longer than an action (a reference solution)', async () => {
    // code/functions-v0's ground truth is its reference solution: well over the 48 tokens of an action.
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    // A fresh policy whose tokenizer writes numbers digit by digit (--numbers digits).
    const result = await train(
      {
        ...tiny,
        env: 'code/functions-v0',
        difficulty: 1,
        model: { ...tiny.model, contextLength: 512 },
        numbers: 'digits',
        steps: 1,
        out,
      },
      { log: () => {} },
    );
    expect(result.steps).toBe(1);
    expect(JSON.parse(await readFile(join(out, 'checkpoints', 'step-000001', 'tokenizer.json'), 'utf8'))).toMatchObject(
      { version: 2, numbers: 'digits' },
    );
    const [row] = readMetrics(join(out, 'metrics.jsonl')).records;
    expect(Number.isFinite(row!['rollout/ig_mean'])).toBe(true);
    expect(row!['rollout/ig_mean']).not.toBe(0);
    // A context too small to hold the answer and some of the episode is a clear error, not a crash.
    const small = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    await expect(
      train(
        {
          ...tiny,
          env: 'code/functions-v0',
          difficulty: 1,
          model: { ...tiny.model, contextLength: 160 },
          steps: 1,
          out: small,
        },
        { log: () => {} },
      ),
    ).rejects.toThrow(
      /ground-truth answer of code\/functions-v0 .* is \d+ tokens, which leaves under 64 of the policy's 160 context tokens/,
    );
  }, 300_000);

  it('refuses bad options with a TurngymError naming each of them, in one line', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    const error = await train({
      ...tiny,
      steps: 0,
      groupSize: 'eight',
      model: { layers: 0 },
      out,
      bogus: 1,
    } as never).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TurngymError);
    expect((error as TurngymError).code).toBe('INVALID_OPTIONS');
    expect((error as Error).message).toBe(
      'Invalid training options: steps: must be at least 1 (RL steps to train; to only evaluate a checkpoint, use turngym eval); model.layers: Too small: expected number to be >=1; groupSize: Invalid input: expected number, received string; unknown option bogus.',
    );
  });

  it('refuses an out that holds a run, and with overwrite starts over in it (the old records and checkpoints gone)', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    await train({ ...tiny, steps: 2, checkpointEvery: 1, out }, { log: () => {} });
    await expect(train({ ...tiny, steps: 1, out }, { log: () => {} })).rejects.toThrow(
      `${out} already holds a run (checkpoints/, config.json, eval.json, metrics.jsonl, report.html, trajectories.jsonl): continue it with --resume ${out}, start over with --overwrite`,
    );
    await expect(train({ ...tiny, steps: 1, out, resume: true, overwrite: true }, { log: () => {} })).rejects.toThrow(
      `--resume continues the run in ${out} and --overwrite deletes it: give one of them.`,
    );
    expect(readMetrics(join(out, 'metrics.jsonl')).records.map((r) => r.step)).toEqual([1, 2]);
    await train({ ...tiny, steps: 1, seed: 6, out, overwrite: true }, { log: () => {} });
    expect(readMetrics(join(out, 'metrics.jsonl')).records.map((r) => r.step)).toEqual([1]);
    expect(readTrajectories(join(out, 'trajectories.jsonl')).every((t) => t.step === 1)).toBe(true);
    expect(await readdir(join(out, 'checkpoints'))).toEqual(['latest.json', 'step-000001']);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({ steps: 1, seed: 6 });
  }, 300_000);

  it("keeps config.json and the run's clock right across --resume", async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'turngym-train-')), 'run');
    await train({ ...tiny, steps: 2, out }, { log: () => {} });
    await train({ ...tiny, steps: 4, out, resume: true }, { log: () => {} });
    // config.json holds the options the run went on with (4 steps), and metrics' time goes on from step 2's.
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({ steps: 4 });
    const times = readMetrics(join(out, 'metrics.jsonl')).records.map((r) => r.time);
    expect(times).toHaveLength(4);
    for (let i = 1; i < 4; i++) expect(times[i], `time at step ${i + 1}`).toBeGreaterThan(times[i - 1]!);
    // A resumed run that is already at its last step says so instead of training nothing.
    await expect(train({ ...tiny, steps: 4, out, resume: true }, { log: () => {} })).rejects.toThrow(
      `${out} is at step 4 of its 4 steps already: give more --steps to train further (e.g. --resume ${out} --steps 8).`,
    );
  }, 300_000);
});
