import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemoteClient } from '../../../src/envs/remote/client.js';
import { ROOT, runCli } from '../../cli/helpers.js';
import { killAll, startServer, TOKEN, withPortInUse } from './servers.js';

describe('turngym serve', () => {
  it('serves envs and /healthz, and shuts down gracefully on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--max-sessions', '5'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
      child.stderr.on('data', () => {
        const match = /listening on (ws:\/\/\S+) \(health: (http:\/\/\S+)\)/.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const health = await fetch(url.replace('ws:', 'http:').replace('/v1', '/healthz'));
    expect(await health.json()).toMatchObject({ status: 'ok', protocol: 1, sessions: 0 });

    const client = await RemoteClient.connect(url);
    expect(client.limits).toMatchObject({
      max_sessions: 5,
      max_sessions_per_connection: 64,
      max_payload_bytes: 1024 * 1024,
    });
    const env = await client.make('puzzle/guess-number-v0');
    await env.reset({ seed: 1 });
    expect((await env.step('guess(16)')).info).toMatchObject({ turn: 1 });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('turngym serve: SIGTERM: shutting down');
    expect(stderr).toContain('turngym serve: shut down; closed 1 session(s)');
    await client.close();
  });

  it('applies every limit flag and serves the envs of --import modules', async () => {
    const server = await startServer([
      '--import',
      './examples/custom-env.ts',
      '--max-connections',
      '11',
      '--max-sessions',
      '9',
      '--max-sessions-per-connection',
      '3',
      '--max-payload',
      '4096',
      '--max-in-flight',
      '5',
      '--max-buffered-bytes',
      '65536',
      '--idle-timeout',
      '120000',
      '--step-timeout',
      '7000',
      '--grace',
      '2500',
    ]);
    try {
      const client = await RemoteClient.connect(server.urls[0]!, { token: TOKEN });
      expect(client.limits).toEqual({
        max_connections: 11,
        max_payload_bytes: 4096,
        max_sessions_per_connection: 3,
        max_sessions: 9,
        max_in_flight: 5,
        max_buffered_bytes: 65536,
        idle_timeout_ms: 120_000,
        step_timeout_ms: 7000,
        grace_ms: 2500,
      });
      expect((await client.list()).map((env) => env.id)).toContain('example/safe-v0');
      const env = await client.make('example/safe-v0', { difficulty: 2 });
      const { observation } = await env.reset({ seed: 1 });
      expect(observation.text).toContain('Open the safe: its code has 2 digit(s).');
      const result = await env.step({ tool: 'try_code', args: { code: '00' } });
      expect(result.info.error).toBeUndefined();
      expect(result.observation.text).toMatch(/^(\d digit\(s\) right and in the right place\.|The safe opens\.)$/);
      await client.close();
    } finally {
      killAll([server]);
    }
  });

  it('reads the token from --token-file or $TURNGYM_TOKEN; a file it cannot read is one line and exit code 2', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'turngym-token-'));
    try {
      const missing = join(directory, 'missing');
      const result = await runCli(['serve', '--port', '0', '--token-file', missing]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`turngym: --token-file ${missing}: no such file.\n`);
      const empty = join(directory, 'empty');
      writeFileSync(empty, '\n');
      expect((await runCli(['serve', '--port', '0', '--token-file', empty])).stderr).toBe(
        `turngym: --token-file ${empty}: the file is empty; put the token on its first line.\n`,
      );
      expect((await runCli(['serve', '--port', '0', '--token-file', empty, '--token', TOKEN])).stderr).toBe(
        'turngym: --token and --token-file: give one of them.\n',
      );

      const secret = 'a-token-from-a-file-0123456789';
      const file = join(directory, 'token');
      writeFileSync(file, `${secret}\n`);
      for (const [args, env] of [
        [['--token-file', file], {}],
        [[], { TURNGYM_TOKEN: secret }],
      ] as const) {
        const server = await startServer([...args], { token: false, env });
        try {
          const trainer = await RemoteClient.connect(server.urls[0]!, {
            role: 'trainer',
            token: secret,
            reconnectAttempts: 0,
          });
          await trainer.close();
          await expect(RemoteClient.connect(server.urls[0]!, { token: TOKEN, reconnectAttempts: 0 })).rejects.toThrow(
            'The token is wrong.',
          );
        } finally {
          killAll([server]);
        }
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('fixes kwargs with --kwargs ENV=JSON, which clients cannot override; bad ones are exit code 2', async () => {
    const server = await startServer(['--kwargs', 'puzzle/guess-number-v0={"difficulty":1}']);
    try {
      const client = await RemoteClient.connect(server.urls[0]!, { token: TOKEN });
      const env = await client.make('puzzle/guess-number-v0');
      expect((await env.reset({ seed: 3 })).info).toMatchObject({ difficulty: 1 });
      await expect(client.make('puzzle/guess-number-v0', { difficulty: 5 })).rejects.toThrow(
        "difficulty: fixed by this server's operator",
      );
      await client.close();
    } finally {
      killAll([server]);
    }
    const bad = await runCli(['serve', '--port', '0', '--kwargs', 'puzzle/guess-number-v0={"difficulty":99}']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "turngym: Invalid arguments for 'puzzle/guess-number-v0':\n  - difficulty: Too big: expected number to be <=12",
    );
    const shapeless = await runCli(['serve', '--port', '0', '--kwargs', '{"difficulty":1}']);
    expect(shapeless.code).toBe(2);
    expect(shapeless.stderr).toContain(`turngym: --kwargs takes ENV=JSON`);
  });

  it('says in one line what to do when the port is in use (exit code 2)', async () => {
    await withPortInUse(async (port) => {
      const result = await runCli(['serve', '--port', String(port)]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `turngym: Cannot listen on 127.0.0.1:${port}: the port is in use (another server?). Stop what holds it, or choose another port (--port; 0 takes any free one).\n`,
      );
    });
  });

  it('refuses to listen beyond loopback without a token', async () => {
    const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('turngym: Refusing to listen on 0.0.0.0 without a token');
  });

  it("--openenv serves one env with OpenEnv's protocol, with the operator's kwargs, until SIGTERM", async () => {
    const server = await startServer(
      [
        '--openenv',
        'puzzle/guess-number-v0',
        '--max-sessions',
        '1',
        '--kwargs',
        'puzzle/guess-number-v0={"difficulty":1}',
      ],
      { token: false },
    );
    try {
      const url = server.urls[0]!;
      expect(server.output()).toMatch(
        /listening on http:\/\/127\.0\.0\.1:\d+ \(puzzle\/guess-number-v0 with OpenEnv's protocol; sessions at ws:\/\/127\.0\.0\.1:\d+\/ws, health at http:\/\/\S+\/health\)/,
      );
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'healthy' });
      const reset = await fetch(`${url}/reset`, { method: 'POST', body: '{"seed": 4}' });
      expect(await reset.json()).toMatchObject({ observation: { info: { seed: 4, difficulty: 1 } }, done: false });
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('turngym serve: SIGTERM: shutting down');
    } finally {
      killAll([server]);
    }
  });

  it('--openenv: each usage mistake is one line and exit code 2', async () => {
    const cases: [string[], string][] = [
      [
        ['--openenv', 'puzzle/guess-number-v0', '--workers', '2'],
        'turngym: --openenv serves one env in one process (as OpenEnv does): leave out --workers',
      ],
      [
        ['--openenv', 'puzzle/guess-number-v0', '--kwargs', 'code/calc-v0={}'],
        "turngym: --openenv puzzle/guess-number-v0 serves that env only; --kwargs names code/calc-v0: give --kwargs 'puzzle/guess-number-v0=JSON'",
      ],
      [['--openenv', 'puzzle/nothing-v0'], "turngym: No environment is registered as 'puzzle/nothing-v0'."],
      [
        ['--openenv', 'puzzle/guess-number-v0', '--kwargs', 'puzzle/guess-number-v0={"colour":1}'],
        "turngym: Invalid arguments for 'puzzle/guess-number-v0':",
      ],
      [
        ['--openenv', 'puzzle/guess-number-v0', '--host', '0.0.0.0'],
        'turngym: Refusing to listen on 0.0.0.0 without a token',
      ],
    ];
    for (const [flags, line] of cases) {
      const result = await runCli(['serve', '--port', '0', ...flags]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(line);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('runs the openenv benchmark (--quick) and prints JSON', async () => {
    const result = await runCli(['bench', 'openenv', '--json', '--quick'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({
      benchmark: 'openenv',
      env: 'puzzle/guess-number-v0',
      throughput: { sessions: 64, protocol_v1: { connections: 8 }, openenv: { connections: 64 } },
      python_openenv: { measured: false },
    });
    expect(figures.latency.openenv.p50_ms).toBeGreaterThan(0);
    expect(figures.throughput.openenv.steps_per_s).toBeGreaterThan(0);
  });

  it('runs the ws benchmark (--quick) and prints JSON', async () => {
    const result = await runCli(['bench', 'ws', '--json', '--quick'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({
      benchmark: 'ws',
      env: 'puzzle/guess-number-v0',
      throughput: { connections: 8, sessions: 64 },
    });
    expect(figures.latency.remote.p50_ms).toBeGreaterThan(0);
    expect(figures.throughput.steps_per_s).toBeGreaterThan(0);
    expect(figures.idle_sessions.sessions).toBe(200);
  });
});
