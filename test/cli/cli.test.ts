import { cp, mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/envs/builtin.js';
import { train } from '../../src/rl/trainer.js';
import { TINY_RUN } from '../rl/tiny-run.js';
import { runCli } from './helpers.js';

describe('turngym CLI', () => {
  it('lists envs as text and JSON', async () => {
    const text = await runCli(['list']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('puzzle/guess-number-v0');
    const json = await runCli(['list', '--json']);
    const envs = JSON.parse(json.stdout) as { id: string; tools: { name: string; parameters: { type: string } }[] }[];
    expect(envs.find((env) => env.id === 'puzzle/guess-number-v0')?.tools[0]).toMatchObject({
      name: 'guess',
      parameters: { type: 'object' },
    });
    const one = await runCli(['list', 'puzzle/guess-number-v0', '--json']);
    expect(JSON.parse(one.stdout)).toMatchObject({
      id: 'puzzle/guess-number-v0',
      kwargs: {
        properties: { difficulty: { type: 'integer', default: 3, minimum: 1, maximum: 12 } },
        additionalProperties: false,
      },
      remote_kwargs: { properties: { difficulty: { maximum: 12 } }, additionalProperties: false },
    });
    const corpus = JSON.parse((await runCli(['list', 'search/corpus-v0', '--json'])).stdout);
    expect(Object.keys(corpus.remote_kwargs.properties)).toEqual(['reward', 'pageChars']);
  });

  it('shows one env in full, keyword arguments included', async () => {
    const result = await runCli(['list', 'code/calc-v0']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('answer(value)  Give your final answer');
    expect(result.stdout).toMatch(/\n {2}difficulty integer 1\.\.5 +Task difficulty 1-5; default 2 \[remote\]\n/);
    expect(result.stdout).toMatch(
      /\n {2}memoryLimitMb integer 8\.\.4096 +Heap limit of the interpreter in MB; default 64\n/,
    );
    expect(result.stdout).toMatch(/\n {2}kinds string\[\] +Draw tasks only of these kinds/);
    // A kwarg whose description does not give its default gets the schema's.
    const custom = await runCli(['list', 'example/safe-v0', '--import', './examples/custom-env.ts']);
    expect(custom.stdout).toMatch(/\n {2}difficulty integer 1\.\.6 +Number of digits; default 2 \[remote\]\n/);
    const search = await runCli(['list', 'search/multihop-v0']);
    expect(search.stdout).toMatch(/\n {2}kbSeed integer >= 0 +Seed of the knowledge base/);
    expect(search.stdout).toMatch(
      /\n {2}size integer 40\.\.200000 +Number of articles .* \[remote: integer 40\.\.5000\]\n/,
    );
  });

  it('runs the oracle and prints a JSON summary', async () => {
    const result = await runCli([
      'run',
      '--env',
      'puzzle/guess-number-v0',
      '--agent',
      'oracle',
      '--episodes',
      '4',
      '--difficulty',
      '5',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({
      env: 'puzzle/guess-number-v0',
      agent: 'oracle',
      episodes: 4,
      success_rate: 1,
      mean_return: 1,
    });
    expect(summary.mean_turns).toBeGreaterThan(1);
  });

  it('prints transcripts by default', async () => {
    const result = await runCli([
      'run',
      '--env',
      'puzzle/guess-number-v0',
      '--agent',
      'random',
      '--episodes',
      '1',
      '--seed',
      '3',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^=== puzzle\/guess-number-v0 · seed 3 · agent random\n\[task\] I am thinking/);
    expect(result.stdout).toContain('1 episodes · success rate');
  });

  // One CLI process per case, each loading the whole CLI: on a loaded machine that takes minutes, not seconds.
  it('exits with code 2 and a clear message on bad arguments', { timeout: 240_000 }, async () => {
    const cases: [string[], string][] = [
      [
        ['run', '--env', 'puzzle/guess-numbr-v0'],
        "turngym: No environment is registered as 'puzzle/guess-numbr-v0'. Did you mean 'puzzle/guess-number-v0'?",
      ],
      [
        ['run', '--env', 'puzzle/guess-number-v0', '--kwargs', '{"difficulty": 0}'],
        "turngym: Invalid arguments for 'puzzle/guess-number-v0':\n  - difficulty: Too small",
      ],
      [
        ['run', '--env', 'puzzle/guess-number-v0', '--episodes', 'many'],
        "turngym: --episodes must be an integer, got 'many'.",
      ],
      [['run', '--env', 'puzzle/guess-number-v0', '--agent', 'genius'], "turngym: Unknown agent 'genius'."],
      [['run', '--env', 'puzzle/guess-number-v0', '--kwargs', '{oops'], 'turngym: --kwargs must be a JSON object'],
      [['run'], "error: required option '--env <id>' not specified"],
      [['bench', 'nothing'], "turngym: Unknown benchmark 'nothing'. Available: "],
      [
        ['bench', 'env-step', '--config', 'search'],
        'turngym: --config is an option of bench train, not of bench env-step.',
      ],
      [['bench', 'train', '--config', 'chess'], "turngym: --config must be one of guess-number, search; got 'chess'."],
      [['bench', 'train', '--baseline-dir', 'no/such/dir'], 'turngym: --baseline-dir no/such/dir: no such directory.'],
      [
        ['bench', 'train', '--baseline-dir', 'docs'],
        'turngym: --baseline-dir docs: not a turngym source tree (no src/rl/trainer.ts)',
      ],
      [
        ['bench', 'web-idle', '--baseline-dir', 'docs'],
        'turngym: --baseline-dir docs: not a turngym source tree (no src/envs/web/env.ts)',
      ],
      [
        ['bench', 'env-step', '--baseline-dir', '.'],
        'turngym: --baseline-dir is an option of bench web-idle, bench train, not of bench env-step.',
      ],
      [
        ['run', '--env', 'x/y-v0', '--import', './no/such/module.ts'],
        'turngym: --import ./no/such/module.ts: no such file',
      ],
      [
        ['sft', '--env', 'code/calc-v0', '--out', 'runs/never-written', '--numbers', 'roman'],
        "error: option '--numbers <how>' argument 'roman' is invalid. Allowed choices are whole, digits.",
      ],
      // Refused before any demonstration is played (100,000 of them would outlast the test).
      [
        ['sft', '--env', 'code/calc-v0', '--out', 'runs/never-written', '--episodes', '100000', '--copy-ahead', '2'],
        'turngym: copyAhead (2) is a setting of the copy head: add copy (--copy), or leave copyAhead at 0',
      ],
      [
        ['sft', '--env', 'code/calc-v0', '--out', 'runs/never-written', '--episodes', '100000', '--heads', '3'],
        'turngym: width (128) must be a multiple of heads (3)',
      ],
      [
        ['train', '--env', 'code/calc-v0', '--out', 'runs/never-written', '--mini-batch-by', 'task'],
        "error: option '--mini-batch-by <choice>' argument 'task' is invalid. Allowed choices are play, group.",
      ],
      [
        ['train', '--env', 'code/calc-v0', '--out', 'runs/never-written', '--format-penalty-on', 'episode'],
        "error: option '--format-penalty-on <choice>' argument 'episode' is invalid. Allowed choices are return, turn.",
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
    }
  });

  it(
    'takes --import in every command that takes an env id, and exits with code 2 when the module is missing',
    { timeout: 120_000 },
    async () => {
      const missing = ['--import', './no/such/module.ts'];
      const commands = [
        ['serve', '--port', '0', ...missing],
        ['train', '--env', 'x/y-v0', ...missing],
        ['sft', '--env', 'x/y-v0', '--out', 'runs/never-written', ...missing],
        ['eval', '--checkpoint', 'runs/never-read', '--env', 'x/y-v0', ...missing],
      ];
      const results = await Promise.all(commands.map((args) => runCli(args, { timeoutMs: 110_000 })));
      for (const [index, result] of results.entries()) {
        expect(result.code, commands[index]!.join(' ')).toBe(2);
        expect(result.stderr, commands[index]!.join(' ')).toContain(
          'turngym: --import ./no/such/module.ts: no such file',
        );
      }
    },
  );

  it(
    'explains a damaged checkpoint or latest.json in one line with what to do, exit code 2 (train --resume, eval)',
    { timeout: 400_000 },
    async () => {
      // A real two-step run, then copies of it with one thing damaged in each.
      const root = await mkdtemp(join(tmpdir(), 'turngym-cli-'));
      await train({ ...TINY_RUN, steps: 2, checkpointEvery: 1, out: join(root, 'run') }, { log: () => {} });
      const damaged = async (name: string, damage: (step2: string) => Promise<void>) => {
        const dir = join(root, name);
        await cp(join(root, 'run'), dir, { recursive: true });
        await damage(join(dir, 'checkpoints', 'step-000002'));
        return dir;
      };
      const config = await damaged('config', (step2) => truncate(join(step2, 'config.json'), 100));
      const weights = await damaged('weights', (step2) => truncate(join(step2, 'weights.bin'), 1000));
      const streams = await damaged('streams', async (step2) => {
        const saved = JSON.parse(await readFile(join(step2, 'config.json'), 'utf8'));
        saved.metadata.trainer.sampleRng = saved.metadata.trainer.sampleRng.slice(0, 2);
        await writeFile(join(step2, 'config.json'), JSON.stringify(saved));
      });
      const pointer = await damaged('pointer', (step2) =>
        writeFile(join(step2, '..', 'latest.json'), '{"step":3,"directory":"step-000003"}\n'),
      );
      const step2 = (dir: string) => join(dir, 'checkpoints', 'step-000002');
      const earlier = (dir: string, remove: string, step = 1) =>
        `To resume from step ${step}, ${remove}write {"step":${step},"directory":"step-00000${step}"} into ${join(dir, 'checkpoints', 'latest.json')}; or start a new run (another --out).`;
      const cases: [string[], string[]][] = [
        [
          ['train', '--resume', config],
          [
            `turngym: Cannot resume ${config} from ${step2(config)}: config.json is truncated or not JSON (`,
            `). ${earlier(config, `delete ${step2(config)} and `)}`,
          ],
        ],
        [
          ['train', '--resume', weights],
          [
            `turngym: Cannot resume ${weights} from ${step2(weights)}: weights.bin has 1000 bytes but weights.json says `,
            `: the file is truncated or corrupted. ${earlier(weights, `delete ${step2(weights)} and `)}`,
          ],
        ],
        [
          ['train', '--resume', streams],
          [
            `turngym: Cannot resume ${streams} from ${step2(streams)}: its trainer state (the step and random streams, in config.json) is invalid: sampleRng is not the state of a random stream (4 32-bit integers). ${earlier(streams, `delete ${step2(streams)} and `)}`,
          ],
        ],
        [
          ['train', '--resume', pointer],
          [
            `turngym: Cannot resume ${pointer}: ${join(pointer, 'checkpoints', 'latest.json')} names step-000003, which is not in ${join(pointer, 'checkpoints')}. ${earlier(pointer, '', 2)}`,
          ],
        ],
        [
          ['eval', '--checkpoint', step2(config), '--env', 'puzzle/guess-number-v0', '--episodes', '1'],
          [
            `turngym: Cannot load the checkpoint ${step2(config)}: config.json is truncated or not JSON (`,
            '). Delete that checkpoint folder and use an earlier one (another checkpoints/step-* folder of the run), or save it again.',
          ],
        ],
      ];
      const results = await Promise.all(cases.map(([args]) => runCli(args, { timeoutMs: 300_000 })));
      for (const [index, result] of results.entries()) {
        const [args, parts] = cases[index]!;
        expect(result.code, args.join(' ')).toBe(2);
        const lines = result.stderr.trimEnd().split('\n');
        expect(
          lines.filter((line) => /^\s+at /.test(line)),
          args.join(' '),
        ).toEqual([]); // no stack trace
        const message = lines.at(-1)!;
        expect(message.startsWith(parts[0]!), `${args.join(' ')}: ${message}`).toBe(true);
        expect(message.endsWith(parts.at(-1)!), `${args.join(' ')}: ${message}`).toBe(true);
      }
    },
  );

  it('runs a user env registered by an --import module', async () => {
    const result = await runCli([
      'run',
      '--import',
      './examples/custom-env.ts',
      '--env',
      'example/safe-v0',
      '--episodes',
      '3',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ env: 'example/safe-v0', success_rate: 1 });
    const listed = await runCli(['list', '--import', './examples/custom-env.ts']);
    expect(listed.stdout).toContain('example/safe-v0');
  });

  // The comparison's path: a warm start and a round on each side, each in a child process (this tree is its own
  // baseline here); tiny batches, so the figures say nothing, only their keys are checked.
  it('runs the train benchmark against a baseline tree and prints the speed-ups', { timeout: 180_000 }, async () => {
    const result = await runCli(
      ['bench', 'train', '--json', '--quick', '--config', 'guess-number', '--baseline-dir', '.'],
      { timeoutMs: 170_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({
      benchmark: 'train',
      backend: 'wasm',
      quick: true,
      rounds: 1,
      steps_per_round: 1,
      rounds_start_from: 'the baseline warm start',
    });
    expect(Object.keys(figures.configs)).toEqual(['guess-number']);
    const config = figures.configs['guess-number'];
    expect(config).toMatchObject({
      preset: 'guess-number',
      env: 'puzzle/guess-number-v0',
      model: { layers: 2, width: 96, contextLength: 192 },
      horizon: 5,
      sampling_context_tokens: 168,
      sampling_new_tokens: 24,
    });
    for (const side of [config.this, config.baseline]) {
      expect(side.measured_steps).toBe(1);
      for (const key of [
        'env_s',
        'sample_s',
        'score_s',
        'update_s',
        'step_s',
        'cores_used',
        'matmul_ceiling_gflops_per_s',
      ])
        expect(side[key], key).toBeGreaterThanOrEqual(0);
      expect(side.sampling.map((row: { rows: number }) => row.rows)).toEqual([2, 4]);
      expect(side.sampling[0].ratio_to_matmul).toBeGreaterThan(0);
    }
    expect(config.speedup.step_s).toBeGreaterThan(0);
    expect(config.speedup.sampling).toHaveLength(2);
  });

  it(
    'runs the train benchmark on this tree alone, in the process of the CLI (search: the quickstart, a copy head)',
    { timeout: 120_000 },
    async () => {
      const result = await runCli(['bench', 'train', '--json', '--quick', '--config', 'search'], {
        timeoutMs: 110_000,
      });
      expect(result.code, result.stderr).toBe(0);
      const figures = JSON.parse(result.stdout);
      expect(figures).not.toHaveProperty('baseline_commit');
      const config = figures.configs.search;
      expect(config).toMatchObject({ preset: 'quickstart', env: 'search/multihop-v0', advantage: 'grpo', horizon: 4 });
      expect(config.model).toMatchObject({ contextLength: 512, copy: true, toolsInContext: false });
      expect(config.this.update_s).toBeGreaterThan(0);
      expect(config).not.toHaveProperty('speedup');
    },
  );

  // Both trees in child processes, each with its own Chromium (this tree is its own baseline here), then this
  // tree alone in the CLI's process; four pages and one product, so the figures say nothing, only that each
  // side's browser was found and measured.
  it('runs the web-idle benchmark, against a baseline tree and alone', { timeout: 240_000 }, async () => {
    const compared = await runCli(['bench', 'web-idle', '--json', '--quick', '--baseline-dir', '.'], {
      timeoutMs: 170_000,
    });
    expect(compared.code, compared.stderr).toBe(0);
    const figures = JSON.parse(compared.stdout);
    expect(figures).toMatchObject({
      benchmark: 'web-idle',
      backend: 'wasm',
      env: 'web/forms-v0',
      pages: 4,
      actions: 1,
    });
    expect(figures.baseline_dir).toBe(process.cwd());
    for (const side of [figures.this, figures.baseline]) {
      // The browser's launch, the pages and the actions cost CPU: zero would mean its processes were not found.
      expect(side.browser_cpu_s).toBeGreaterThan(0);
      expect(side.browser_cores_idle).toBeLessThanOrEqual(side.browser_cpu_s);
      expect(side.matmul_open_over_closed).toBeGreaterThan(0);
      expect(side.episodes_ended + side.submits_refused).toBeLessThanOrEqual(4);
    }
    expect(Object.keys(figures.compared)).toEqual(['browser_cores_idle_saved', 'matmul_open_over_closed']);
    const alone = await runCli(['bench', 'web-idle', '--json', '--quick'], { timeoutMs: 60_000 });
    expect(alone.code, alone.stderr).toBe(0);
    const mine = JSON.parse(alone.stdout);
    expect(mine.this.browser_cpu_s).toBeGreaterThan(0);
    expect(mine).not.toHaveProperty('baseline');
    expect(mine).not.toHaveProperty('compared');
  });

  it('runs the env-step benchmark and prints JSON', async () => {
    const result = await runCli(['bench', 'env-step', '--json', '--quick']);
    expect(result.code).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({ benchmark: 'env-step', env: 'puzzle/guess-number-v0', pool_size: 64 });
    expect(figures.bare_steps_per_s).toBeGreaterThan(0);
    expect(figures.wrapper_overhead_ratio).toBeGreaterThan(0);
  });

  it('runs the demonstrations benchmark (Chromium and search) and prints JSON', { timeout: 300_000 }, async () => {
    const result = await runCli(['bench', 'demonstrations', '--json', '--quick']);
    expect(result.code).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({ benchmark: 'demonstrations', envs_side_by_side: 4 });
    expect(figures.results.map((row: { env: string }) => row.env)).toEqual(['web/forms-v0', 'search/multihop-v0']);
    for (const row of figures.results) expect(row.ratio).toBeGreaterThan(0);
  });
});
