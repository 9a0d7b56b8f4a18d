/**
 * "Every command the README shows is run by a test exactly as written." This file finds every command in
 * README.md (each line of a ```bash block, `\` continuations joined and `&&` chains split; and each inline
 * `npx ...`, `npm ...`, `pip ...` span of the prose), holds each to an entry of COVERAGE, and runs them:
 *
 * - `verbatim`: run here exactly as written, in the checkout (or, for the training commands, which write
 *   runs/..., in a fresh project whose node_modules holds this turngym), through `bash -c`, so `npx turngym`
 *   is the built CLI, as for a user;
 * - `budget`: run here as written followed by `extra`, flags that only shrink a long run (npm start takes
 *   about ten minutes, the guess-number preset twenty) or point `--out` into the test's folder: the README's
 *   words are the start of the command line, so a flag or preset the README names that stopped working
 *   fails here;
 * - `instance`: usage with a placeholder (`list ID`), run here with one value for it;
 * - `never`: not run, with the reason (it installs from the network, or it is the test suite itself).
 *
 * A README command without an entry fails the first test, and so does an entry whose command left the README.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROOT } from './cli/helpers.js';
import { readMetrics } from '../src/rl/metrics.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

type Coverage =
  | { run: 'verbatim' }
  | { run: 'budget'; extra: string }
  | { run: 'instance'; as: string }
  | { run: 'never'; why: string };

/** Budget flags of a tiny training run: one RL step of two episodes, a two-step warm start, two held-out episodes. */
const TINY_TRAIN =
  '--steps 1 --warm-start-steps 2 --warm-start-episodes 4 --eval-episodes 2 --tasks-per-step 1 --group-size 2';

/** How each README command is run. Keys are the commands exactly as the README shows them. */
const COVERAGE: Record<string, Coverage> = {
  'npm install': {
    run: 'never',
    why: 'it installs from the registry; the tests run in a checkout that `npm ci` installed',
  },
  // Into the test's project ($PROJECT), where the training commands below compare against it.
  'npm start': { run: 'budget', extra: `-- ${TINY_TRAIN} --out "$PROJECT/runs/quickstart"` },
  'npm test': { run: 'never', why: 'it is the whole test suite, of which this file is a part' },
  // Inside the checkout this once failed with "'puzzle/guess-number-v0' is already registered" (the CLI from
  // dist/, the example importing turngym from source); fixed in 35583d9, and this run keeps it fixed.
  'npx turngym run --import ./examples/custom-env.ts --env example/safe-v0 --agent oracle --episodes 3': {
    run: 'verbatim',
  },
  'npx turngym sft --env puzzle/guess-number-v0 --out runs/sft': {
    run: 'budget',
    extra: '--episodes 16 --steps 4 --eval-episodes 4 --layers 1 --width 32 --heads 2 --context 160',
  },
  'npx turngym train --env puzzle/guess-number-v0 --init runs/sft --steps 30 --advantage igpo --entropy-control clip-cov --curriculum \'{"kind":"scaling-inter","stages":[5,8,10],"every":10}\' --out runs/rl':
    { run: 'budget', extra: '--tasks-per-step 1 --group-size 2 --eval-episodes 4 --max-action-tokens 8' },
  'npx turngym train --resume runs/rl --steps 60': { run: 'verbatim' },
  'npx turngym eval --checkpoint runs/rl/checkpoints/step-000030 --env puzzle/guess-number-v0 --episodes 100 --baseline runs/sft':
    { run: 'verbatim' },
  'npx turngym report runs/rl --compare runs/quickstart': { run: 'verbatim' },
  'npx turngym serve --port 8765': { run: 'verbatim' },
  'python3 examples/python/client.py': { run: 'verbatim' },
  'npx turngym serve --openenv puzzle/guess-number-v0 --port 8001': { run: 'verbatim' },
  'python3 examples/python/openenv_client.py --url http://127.0.0.1:8001': { run: 'verbatim' },
  'npx turngym run --env openenv+http://127.0.0.1:8001 --agent random': { run: 'verbatim' },
  'npx tsx examples/agent-server.ts --port 9000': { run: 'verbatim' },
  'npx turngym run --env puzzle/guess-number-v0 --agent ws://127.0.0.1:9000': { run: 'verbatim' },
  'npx turngym run --env search/multihop-v0 --agent openai:MODEL --base-url http://localhost:8000/v1': {
    run: 'verbatim',
  },
  'npx turngym train --preset guess-number': { run: 'budget', extra: TINY_TRAIN },
  'apt-get install -y chromium-headless-shell': {
    run: 'never',
    why: 'it installs a system package (root, network); the web tests find the Chromium npm install brings',
  },
  'npx playwright install chromium': { run: 'never', why: 'it downloads a browser from the network' },
  'pip install websockets': {
    run: 'never',
    why: 'it installs from the network; the test setup makes a Python with websockets (test/setup/python.ts)',
  },
  'npx turngym list ID': { run: 'instance', as: 'npx turngym list puzzle/guess-number-v0' },
  'npx turngym sites': { run: 'verbatim' },
  'npx turngym bench NAME --json': { run: 'instance', as: 'npx turngym bench env-step --json' },
};

/** The commands README.md shows: lines of ```bash blocks and inline command spans of the prose. */
export function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.replace(/\\\n\s*/g, '').split('\n')) {
      const command = line.replace(/(^|\s+)#.*$/, '').trim();
      if (command !== '') commands.push(...command.split(/\s+&&\s+/));
    }
  }
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  for (const span of prose.matchAll(/`((?:npx|npm|pip|pip3|python3|apt-get|node) [^`]+)`/g)) commands.push(span[1]!);
  return [...new Set(commands)];
}

/** The command line a README command runs as here. */
function commandLine(command: string): string {
  const coverage = COVERAGE[command]!;
  if (coverage.run === 'budget') return `${command} ${coverage.extra}`;
  if (coverage.run === 'instance') return coverage.as;
  return command;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const started: ChildProcess[] = [];
afterEach(() => {
  // Each was started in its own process group (npx starts node, which may start more): end the group.
  for (const child of started.splice(0)) if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
});

/** Runs a README command (as `commandLine` gives it) through bash in `cwd`, to its end. */
function run(command: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return shell(commandLine(command), cwd, env);
}

/** Runs a command line through bash in `cwd`, to its end (at most `timeoutMs`). */
function shell(line: string, cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 300_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a README command that serves until stopped; resolves once its output matches `ready`. */
function start(command: string, cwd: string, ready: RegExp): Promise<string> {
  const child = spawn('bash', ['-c', commandLine(command)], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command} printed no ${ready} in 60 s:\n${output}`)), 60_000);
    const check = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready:\n${output}`)));
  });
}

/** A project folder where `npx turngym` is this checkout's CLI, as after `npm install turngym`. */
async function userProject(): Promise<string> {
  const project = await mkdtemp(join(tmpdir(), 'turngym-readme-'));
  await mkdir(join(project, 'node_modules', '.bin'), { recursive: true });
  await symlink(ROOT, join(project, 'node_modules', 'turngym'));
  await symlink(join('..', 'turngym', 'bin', 'turngym.js'), join(project, 'node_modules', '.bin', 'turngym'));
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'my-runs', private: true, type: 'module', dependencies: { turngym: `file:${ROOT}` } }),
  );
  return project;
}

/** Expects a run to have succeeded, showing its output when it did not. */
function succeeded(result: Result, command: string): void {
  expect(result.code, `${commandLine(command)}\n${result.stdout}\n${result.stderr}`).toBe(0);
}

describe('README.md', () => {
  it('maps every command it shows to how this file runs it', () => {
    const commands = readmeCommands(README);
    expect(
      commands.filter((command) => !(command in COVERAGE)),
      'README commands without an entry in COVERAGE',
    ).toEqual([]);
    expect(
      Object.keys(COVERAGE).filter((command) => !commands.includes(command)),
      'COVERAGE entries no longer in the README',
    ).toEqual([]);
    for (const [command, coverage] of Object.entries(COVERAGE)) {
      if (coverage.run === 'budget') expect(commandLine(command).startsWith(`${command} `)).toBe(true);
    }
  });

  it('prints what the comments of its ten lines of API say', { timeout: 120_000 }, async () => {
    const block = /## Ten lines of API[\s\S]*?```ts\n([\s\S]*?)```/.exec(README)![1]!;
    const script = join(await mkdtemp(join(tmpdir(), 'turngym-readme-api-')), 'ten-lines.mts'); // ESM: top-level await
    await writeFile(
      script,
      block.replace("from 'turngym'", `from '${pathToFileURL(join(ROOT, 'src', 'index.ts')).href}'`),
    );
    const result = await new Promise<Result>((resolve) => {
      const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.code, result.stderr).toBe(0);
    const said = block
      .split('\n')
      .filter((line) => line.startsWith('console.log('))
      .map((line) => /\/\/ (.*)$/.exec(line)?.[1] ?? '(no comment)');
    const printed = result.stdout.trimEnd().split('\n');
    expect(printed).toHaveLength(said.length);
    said.forEach((comment, index) => {
      if (comment.endsWith(' ...'))
        expect(printed[index]!.startsWith(comment.slice(0, -' ...'.length)), `${printed[index]} vs // ${comment}`).toBe(
          true,
        );
      else expect(printed[index]).toBe(comment);
    });
  });
});

describe('the commands README.md shows, run', () => {
  let project: string;
  beforeAll(async () => {
    const built = await shell('npm run build', ROOT); // npx turngym runs the built CLI
    expect(built.code, built.stderr).toBe(0);
    project = await userProject();
  }, 300_000);

  it('runs npm start twice in a row: the second run replaces the first', { timeout: 600_000 }, async () => {
    for (const attempt of [1, 2]) {
      const result = await run('npm start', ROOT, { ...process.env, PROJECT: project });
      succeeded(result, 'npm start');
      expect(result.stderr, `attempt ${attempt}`).toContain('held-out after training');
    }
    expect(
      readMetrics(join(project, 'runs', 'quickstart', 'metrics.jsonl')).records.map((record) => record.step),
    ).toEqual([1]);
  });

  it('runs the training commands in order in a project of its own', { timeout: 900_000 }, async () => {
    const chain = [
      'npx turngym sft --env puzzle/guess-number-v0 --out runs/sft',
      'npx turngym train --env puzzle/guess-number-v0 --init runs/sft --steps 30 --advantage igpo --entropy-control clip-cov --curriculum \'{"kind":"scaling-inter","stages":[5,8,10],"every":10}\' --out runs/rl',
      'npx turngym train --resume runs/rl --steps 60',
      'npx turngym eval --checkpoint runs/rl/checkpoints/step-000030 --env puzzle/guess-number-v0 --episodes 100 --baseline runs/sft',
      'npx turngym report runs/rl --compare runs/quickstart', // npm start's run, from the test above
    ];
    for (const command of chain) succeeded(await run(command, project), command);
    expect(readMetrics(join(project, 'runs', 'rl', 'metrics.jsonl')).records.map((record) => record.step)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    const preset = 'npx turngym train --preset guess-number';
    succeeded(await run(preset, project), preset);
  });

  it('runs the example env, and the commands shown with a placeholder', { timeout: 300_000 }, async () => {
    const custom =
      'npx turngym run --import ./examples/custom-env.ts --env example/safe-v0 --agent oracle --episodes 3';
    const played = await run(custom, ROOT);
    succeeded(played, custom);
    expect(played.stdout).toContain('3 episodes · success rate 1.000');
    const listed = await run('npx turngym list ID', ROOT);
    succeeded(listed, 'npx turngym list ID');
    expect(listed.stdout).toContain('guess(n)');
    const bench = await run('npx turngym bench NAME --json', ROOT);
    succeeded(bench, 'npx turngym bench NAME --json');
    expect(JSON.parse(bench.stdout)).toMatchObject({ benchmark: 'env-step' });
    const sites = await start('npx turngym sites', ROOT, /turngym sites: serving until Ctrl-C/);
    const shop = /^shop +(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(sites)![1]!;
    expect((await fetch(shop)).status).toBe(200);
  });

  it(
    'serves envs to the Python client, drives the example agent server and an OpenAI-compatible server',
    { timeout: 300_000 },
    async () => {
      // The README's ports are fixed: 8765 (turngym serve), 9000 (the agent server), 8000 (the model server).
      await start('npx turngym serve --port 8765', ROOT, /listening on ws:\/\/127\.0\.0\.1:8765\/v1/);
      const found = inject('python');
      if ('problem' in found) throw new Error(found.problem);
      // `python3` is the test's Python, which has websockets (a user installs it with pip).
      const withPython = { ...process.env, PATH: `${dirname(found.path)}${delimiter}${process.env.PATH}` };
      const client = await run('python3 examples/python/client.py', ROOT, withPython);
      succeeded(client, 'python3 examples/python/client.py');
      expect(JSON.parse(client.stdout.trim().split('\n').at(-1)!)).toMatchObject({
        env: 'puzzle/guess-number-v0',
        episodes: 5,
      });
      await start(
        'npx turngym serve --openenv puzzle/guess-number-v0 --port 8001',
        ROOT,
        /listening on http:\/\/127\.0\.0\.1:8001 \(puzzle\/guess-number-v0 with OpenEnv's protocol/,
      );
      const openenv = 'python3 examples/python/openenv_client.py --url http://127.0.0.1:8001';
      const played = await run(openenv, ROOT, withPython);
      succeeded(played, openenv);
      expect(JSON.parse(played.stdout.trim().split('\n').at(-1)!)).toMatchObject({
        env: 'puzzle/guess-number-v0',
        health: 'healthy',
        episodes: 5,
        last_state: { done: true },
      });
      const bridged = await run('npx turngym run --env openenv+http://127.0.0.1:8001 --agent random', ROOT);
      succeeded(bridged, 'npx turngym run --env openenv+http://127.0.0.1:8001 --agent random');
      expect(bridged.stdout).toMatch(/3 episodes · success rate \d\.\d{3}/);

      await start(
        'npx tsx examples/agent-server.ts --port 9000',
        ROOT,
        /agent server listening on ws:\/\/127\.0\.0\.1:9000/,
      );
      const driven = await run('npx turngym run --env puzzle/guess-number-v0 --agent ws://127.0.0.1:9000', ROOT);
      succeeded(driven, 'npx turngym run --env puzzle/guess-number-v0 --agent ws://127.0.0.1:9000');
      expect(driven.stdout).toContain('3 episodes · success rate 1.000'); // bisection solves guess-number

      const model = await modelServer(8000);
      try {
        const command =
          'npx turngym run --env search/multihop-v0 --agent openai:MODEL --base-url http://localhost:8000/v1';
        const answered = await run(command, ROOT);
        succeeded(answered, command);
        expect(answered.stdout).toContain('3 episodes · success rate 0.000');
        expect(model.models).toEqual(['MODEL', 'MODEL', 'MODEL']);
      } finally {
        await new Promise((resolve) => model.server.close(resolve));
      }
    },
  );
});

/**
 * A real HTTP server on `port` that speaks the chat-completions API as an OpenAI-compatible model server
 * does, and answers every request with the tool call `answer("I do not know")`; it records the model asked for.
 */
async function modelServer(port: number): Promise<{ server: Server; models: string[] }> {
  const models: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      models.push((JSON.parse(body) as { model: string }).model);
      const call = {
        id: `call_${models.length}`,
        type: 'function',
        function: { name: 'answer', arguments: JSON.stringify({ text: 'I do not know' }) },
      };
      const completion = {
        id: `chatcmpl-${models.length}`,
        object: 'chat.completion',
        created: 0,
        model: 'MODEL',
        choices: [
          { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [call] } },
        ],
      };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(completion));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, 'localhost', resolve);
  });
  return { server, models };
}
