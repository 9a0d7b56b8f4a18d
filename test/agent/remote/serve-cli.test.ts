import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RemoteClient } from '../../../src/agent/remote/client.js';
import { ROOT, runCli } from '../../cli/helpers.js';
import { killAll, startServer, TOKEN } from './servers.js';

describe('turngym serve', () => {
  it('serves envs and /healthz, and shuts down gracefully on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--max-sessions', '5'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    expect(client.limits).toMatchObject({ max_sessions: 5, max_sessions_per_connection: 64, max_payload_bytes: 1024 * 1024 });
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
      '--import', './examples/custom-env.ts',
      '--max-sessions', '9',
      '--max-sessions-per-connection', '3',
      '--max-payload', '4096',
      '--max-in-flight', '5',
      '--idle-timeout', '120000',
      '--step-timeout', '7000',
      '--grace', '2500',
    ]);
    try {
      const client = await RemoteClient.connect(server.urls[0]!, { token: TOKEN });
      expect(client.limits).toEqual({
        max_payload_bytes: 4096,
        max_sessions_per_connection: 3,
        max_sessions: 9,
        max_in_flight: 5,
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

  it('refuses to listen beyond loopback without a token', async () => {
    const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('turngym: Refusing to listen on 0.0.0.0 without a token');
  });

  it('runs the ws benchmark (--quick) and prints JSON', async () => {
    const result = await runCli(['bench', 'ws', '--json', '--quick'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures).toMatchObject({ benchmark: 'ws', env: 'puzzle/guess-number-v0', throughput: { connections: 8, sessions: 64 } });
    expect(figures.latency.remote.p50_ms).toBeGreaterThan(0);
    expect(figures.throughput.steps_per_s).toBeGreaterThan(0);
    expect(figures.idle_sessions.sessions).toBe(200);
  });
});
