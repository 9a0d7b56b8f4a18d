import { describe, expect, it } from 'vitest';
import { RemoteClient } from '../../../src/envs/remote/client.js';
import { RemotePool } from '../../../src/envs/remote/pool.js';
import { runCli } from '../../cli/helpers.js';
import { eventually, health, killAll, startServer, TOKEN, withPortInUse } from './servers.js';

const ID = 'puzzle/guess-number-v0';

describe('turngym serve --workers', () => {
  it('runs N workers with their own /healthz, restarts a killed one, and shuts all down on SIGTERM', async () => {
    const server = await startServer(['--workers', '2', '--max-sessions', '7']);
    try {
      expect(server.urls).toHaveLength(2);
      const [first, second] = await Promise.all(server.urls.map((url) => health(url)));
      expect(first).toMatchObject({ status: 'ok', sessions: 0 });
      expect(second).toMatchObject({ status: 'ok', sessions: 0 });
      expect(first!.pid).not.toBe(second!.pid);
      expect(first!.pid).not.toBe(server.child.pid);

      // The same limits in every worker.
      for (const url of server.urls) {
        const client = await RemoteClient.connect(url, { token: TOKEN });
        expect(client.limits, url).toMatchObject({
          max_sessions: 7,
          max_sessions_per_connection: 64,
          max_payload_bytes: 1024 * 1024,
        });
        await client.close();
      }

      const pool = await RemotePool.connect(server.urls, { token: TOKEN, healthIntervalMs: 200 });
      try {
        const envs = await Promise.all(Array.from({ length: 4 }, () => pool.make(ID)));
        expect(pool.status().map((status) => status.sessions)).toEqual([2, 2]);
        await Promise.all(envs.map((env, i) => env.reset({ seed: i })));
        const victim = envs.find((env) => env.endpoint === server.urls[0])!;
        process.kill(first!.pid as number, 'SIGKILL');
        // Its episode goes on in the other worker.
        const result = await victim.step('guess(3)');
        expect(result.info).toMatchObject({ turn: 1 });
        expect(victim.endpoint).toBe(server.urls[1]);
        // The supervisor starts the worker again on its port; the pool takes it back.
        await eventually(
          async () => (await health(server.urls[0]!).catch(() => ({ pid: undefined }))).pid !== undefined,
        );
        expect((await health(server.urls[0]!)).pid).not.toBe(first!.pid);
        await eventually(() => pool.status()[0]!.state === 'up');
        expect(server.output()).toMatch(
          /worker 0 \(ws:\/\/127\.0\.0\.1:\d+\/v1\) exited with SIGKILL; starting it again on port \d+/,
        );
      } finally {
        await pool.close();
      }

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('turngym serve: SIGTERM: shutting down 2 worker(s)');
      expect(server.output()).toContain('turngym serve[1]: shut down; closed 0 session(s)');
      expect(server.output()).toContain('turngym serve: all 2 workers shut down');
    } finally {
      killAll([server]);
    }
  });

  it("holds every worker to the operator's --kwargs and the remote kwargs", async () => {
    const server = await startServer(['--workers', '2', '--kwargs', 'search/multihop-v0={"size":40}']);
    try {
      for (const url of server.urls) {
        const client = await RemoteClient.connect(url, { token: TOKEN });
        await expect(client.make('search/multihop-v0', { size: 41 }), url).rejects.toThrow(
          "size: fixed by this server's operator",
        );
        await expect(client.make('search/multihop-v0', { indexDirectory: '/tmp/elsewhere' }), url).rejects.toThrow(
          "indexDirectory: only the server's operator may set it",
        );
        await expect(client.make('code/calc-v0', { memoryLimitMb: 2048 }), url).rejects.toThrow(
          "memoryLimitMb: only the server's operator may set it",
        );
        await client.close();
      }
    } finally {
      killAll([server]);
    }
  });

  it('stops and says why, once, when a worker cannot start', async () => {
    const result = await runCli(['serve', '--workers', '2', '--host', '0.0.0.0', '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /\nturngym: worker \d could not start: Refusing to listen on 0\.0\.0\.0 without a token: .*\n$/,
    );
    expect(result.stderr.match(/Refusing to listen/g)).toHaveLength(1);
  });

  it('says in one line what to do when the port of a worker is in use (exit code 2)', async () => {
    await withPortInUse(async (port) => {
      const result = await runCli(['serve', '--workers', '2', '--port', String(port)]);
      expect(result.code).toBe(2);
      expect(result.stderr).not.toContain('    at ');
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
        `turngym: worker 0 could not start: Cannot listen on 127.0.0.1:${port}: the port is in use (another server?). Stop what holds it, or choose another port (--port; 0 takes any free one).`,
      );
      expect(result.stderr.match(/the port is in use/g)).toHaveLength(1);
    });
  });

  it('refuses a port range beyond 65535 in one line (exit code 2)', async () => {
    const result = await runCli(['serve', '--workers', '4', '--port', '65534']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('turngym: --port 65534 with --workers 4 needs ports up to 65537, beyond 65535.\n');
  });
});
