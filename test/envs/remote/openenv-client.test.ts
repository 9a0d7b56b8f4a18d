import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkEnv } from '../../../src/envs/check.js';
import type { Env } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import { RemoteClient } from '../../../src/envs/remote/client.js';
import { connectOpenEnv, OpenEnvSession } from '../../../src/envs/remote/openenv-client.js';
import { type OpenEnvServer, serveOpenEnv } from '../../../src/envs/remote/openenv-server.js';
import { RemotePool } from '../../../src/envs/remote/pool.js';
import { type RemoteServer, serve } from '../../../src/envs/remote/server.js';
import { ROOT, runCli } from '../../cli/helpers.js';
import { registerTestEnvs, sleep } from './helpers.js';
import { closedPort } from './servers.js';

const GUESS = 'puzzle/guess-number-v0';
const closers: (() => Promise<unknown>)[] = [];
const children: ChildProcess[] = [];

beforeAll(() => registerTestEnvs());
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function openEnvServer(
  env = GUESS,
  options: Parameters<typeof serveOpenEnv>[0] | object = {},
): Promise<OpenEnvServer> {
  const server = await serveOpenEnv({ env, port: 0, ...options });
  closers.push(() => server.close());
  return server;
}

async function opened(id: string, kwargs: Record<string, unknown> = {}): Promise<Env> {
  const env = await make(id, kwargs);
  closers.push(() => env.close());
  return env;
}

/** OpenEnv's echo env behind OpenEnv's wire protocol, in Python (test/fixtures/openenv_echo_server.py). */
async function echoServer(args: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const python = inject('python');
  if ('problem' in python) throw new Error(python.problem);
  const child = spawn(python.path, ['test/fixtures/openenv_echo_server.py', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the echo server did not start: ${output}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { url, child };
}

describe("make('openenv+http://...'): an OpenEnv server as a turngym env", () => {
  describe("turngym's own OpenEnv server", () => {
    it("passes checkEnv, with the served env's tools and horizon", async () => {
      const server = await openEnvServer();
      const env = await opened(`openenv+${server.url}`);
      expect(env.spec).toMatchObject({ id: `openenv+${server.url}`, maxTurns: 10, tools: [{ name: 'guess' }] });
      const report = await checkEnv(env);
      expect(report.failures).toEqual([]);
    });

    it('plays an episode to its end: options pass through, mistakes are observations, info and success come back', async () => {
      const server = await openEnvServer();
      const env = await opened(`openenv+${server.url.replace('http', 'ws')}/ws`); // ws:// and /ws are fine too
      const reset = await env.reset({ seed: 7, options: { difficulty: 2 } });
      expect(reset.info).toMatchObject({ seed: 7, difficulty: 2, max_turns: 10 });
      expect(reset.observation.text).toContain('from 1 to 16');
      expect(await env.step('guess(n=')).toMatchObject({
        reward: 0,
        terminated: false,
        info: { error: { code: 'UNPARSABLE_ACTION' }, turn: 1 },
      });
      let low = 1;
      let high = 16;
      let last = await env.step({ tool: 'guess', args: { n: 8 } });
      while (!last.terminated) {
        const guessed =
          (last.info as { tool: string }).tool === 'guess' ? Number(/^(\d+)/.exec(last.observation.text)![1]) : 8;
        if (last.observation.text.includes('higher')) low = guessed + 1;
        else high = guessed - 1;
        last = await env.step(`guess(${Math.floor((low + high) / 2)})`);
      }
      expect(last).toMatchObject({ reward: 1, terminated: true, truncated: false, info: { success: true } });
      await expect(env.reset({ options: { colour: 'red' } })).rejects.toThrow(/unknown option "colour"/);
    });

    it('truncates at the horizon a reset sets, on both sides', async () => {
      const server = await openEnvServer();
      const env = await opened(`openenv+${server.url}`);
      const reset = await env.reset({ seed: 1, options: { maxTurns: 2 } });
      expect(reset.info).toMatchObject({ max_turns: 2 });
      expect(await env.step('guess(1)')).toMatchObject({ terminated: false, truncated: false });
      expect(await env.step('guess(2)')).toMatchObject({ terminated: false, truncated: true, info: { turn: 2 } });
    });

    it('a server that does not answer in time is TIMEOUT, and the session is over', async () => {
      const server = await openEnvServer('test/slow-v0');
      const env = await opened(`openenv+${server.url}`, { timeoutMs: 200 });
      await env.reset({ seed: 1 });
      await expect(env.step({ tool: 'wait', args: { ms: 2000 } })).rejects.toMatchObject({
        code: 'TIMEOUT',
        message: expect.stringContaining('did not answer a step within 200 ms; the session is closed'),
      });
      await expect(env.reset({ seed: 2 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    });

    it('an env failure on the server is ENV_FAILURE', async () => {
      const server = await openEnvServer('test/slow-v0');
      const env = await opened(`openenv+${server.url}`);
      await env.reset({ seed: 1 });
      await expect(env.step('crash()')).rejects.toMatchObject({
        code: 'ENV_FAILURE',
        message: expect.stringContaining(
          'failed a step: The env failed: the slow env crashed on purpose (EXECUTION_ERROR)',
        ),
      });
    });

    it('with a token: refused without it, served with it', async () => {
      const token = 'a-test-token-of-24-chars';
      const server = await openEnvServer(GUESS, { token });
      await expect(make(`openenv+${server.url}`)).rejects.toThrow(/HTTP 401 \(it needs a token/);
      const env = await opened(`openenv+${server.url}`, { token });
      expect((await env.reset({ seed: 1 })).info).toMatchObject({ seed: 1 });
    });
  });

  describe("OpenEnv's echo env (Python, OpenEnv's wire protocol)", () => {
    it('an MCP env: tools listed by the session, called with call_tool, results as text', async () => {
      const { url } = await echoServer(['--mcp']);
      const env = await opened(`openenv+${url}`);
      expect(env.spec.tools.map((tool) => tool.name)).toEqual(['echo_message', 'echo_with_length']);
      expect(env.spec.maxTurns).toBe(100);
      await env.reset({ seed: 1 });
      expect(await env.step('echo_with_length(message="hi there")')).toMatchObject({
        observation: { text: 'hi there (8)', fields: { tool_name: 'echo_with_length' } },
        reward: 0,
        terminated: false,
        info: { tool: 'echo_with_length', turn: 1 },
      });
      expect(await env.step('shout("x")')).toMatchObject({ info: { error: { code: 'UNKNOWN_TOOL' }, turn: 2 } });
      expect(await env.step({ tool: 'echo_message', args: {} })).toMatchObject({
        info: { error: { code: 'INVALID_ARGS' }, turn: 3 },
      });
    });

    it('a typed action (EchoAction): one tool of its fields; reward, done; what the server refuses is an error observation', async () => {
      const { url } = await echoServer();
      expect((await checkEnv(await opened(`openenv+${url}`))).failures).toEqual([]);
      const env = await opened(`openenv+${url}`);
      expect(env.spec.tools.map((tool) => tool.name)).toEqual(['echo']);
      // turngym's horizon stays on this side: only the seed and the env's own options reach another server.
      const reset = await env.reset({ seed: 1, options: { maxTurns: 5 } });
      expect(reset.observation.fields).toMatchObject({ reset_keys: ['seed'] });
      const echoed = await env.step('echo("hello")');
      expect(echoed).toMatchObject({
        reward: 0.5,
        terminated: false,
        observation: { fields: { echoed_message: 'hello', message_length: 5 } },
      });
      expect(JSON.parse(echoed.observation.text)).toEqual({ echoed_message: 'hello', message_length: 5 });
      expect(await env.step('echo("")')).toMatchObject({
        reward: 0,
        terminated: false,
        info: { error: { code: 'INVALID_ARGS', message: expect.stringContaining('at least 1 character') } },
      });
      expect(await env.step('echo("bye")')).toMatchObject({ terminated: true, truncated: false });
    });

    it('a server at capacity is CAPACITY_REACHED; a server gone mid-episode is ENV_FAILURE', async () => {
      const { url, child } = await echoServer(['--max-sessions', '1']);
      const first = await opened(`openenv+${url}`);
      await first.reset({ seed: 1 });
      const second = await opened(`openenv+${url}`);
      await expect(second.reset({ seed: 1 })).rejects.toMatchObject({
        code: 'CAPACITY_REACHED',
        message: expect.stringContaining('Server at capacity: 1/1 sessions active. (CAPACITY_REACHED)'),
      });
      child.kill('SIGKILL');
      await expect(first.step('echo("still there?")')).rejects.toMatchObject({
        code: 'ENV_FAILURE',
        message: expect.stringContaining('closed the session'),
      });
    });
  });

  it('a bare session closed while a reply is awaited fails that request with ENV_CLOSED at once', async () => {
    // Through make's wrappers close() waits for the step (calls are serialised); the bare session does not.
    const server = await openEnvServer('test/slow-v0');
    const session = await OpenEnvSession.open(server.url, { timeoutMs: 60_000 });
    await session.reset({ seed: 1 });
    const step = session.step({ tool: 'wait', args: { ms: 2000 } });
    await sleep(50);
    const started = Date.now();
    await session.close();
    await expect(step).rejects.toMatchObject({ code: 'ENV_CLOSED' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('replies that are not OpenEnv messages are ENV_FAILURE, not a crash (a fake server: no real one sends them)', async () => {
    // Only a broken server sends these, so this one is a fake, named as such: the HTTP routes of an EchoAction
    // env, and a session that answers each message with something that is not an OpenEnv reply.
    const http = createServer((request, response) => {
      const routes: Record<string, unknown> = {
        '/schema': { action: { title: 'EchoAction', type: 'object', properties: { message: { type: 'string' } } } },
        '/metadata': { name: 'broken', description: 'a broken server' },
        '/state': {},
      };
      response.writeHead(routes[request.url ?? ''] ? 200 : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify(routes[request.url ?? ''] ?? {}));
    });
    const replies = ['null', 'not json', '42', '{"type": "observation", "data": null}'];
    const wss = new WebSocketServer({ server: http, path: '/ws' });
    wss.on('connection', (socket) => {
      let index = 0;
      socket.on('message', () => socket.send(replies[index++ % replies.length]!));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise((resolve) => {
          wss.close();
          http.close(resolve);
        }),
    );
    const { port } = http.address() as AddressInfo;
    for (const reply of replies) {
      const env = await opened(`openenv+http://127.0.0.1:${port}`);
      // Each env's session gets the replies from the start: skip to the one under test.
      for (let skip = 0; skip < replies.indexOf(reply); skip++) await env.reset({ seed: 0 }).catch(() => undefined);
      await expect(env.reset({ seed: 1 }), reply).rejects.toMatchObject({ code: 'ENV_FAILURE' });
    }
  });

  it('an address with nothing behind it is UNREACHABLE, one that is not an address INVALID_OPTIONS', async () => {
    const port = await closedPort();
    await expect(make(`openenv+http://127.0.0.1:${port}`)).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: `Could not reach the OpenEnv server at http://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}): is it running, and is that its address?`,
    });
    await expect(make('openenv+ftp://x')).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(connectOpenEnv('http://127.0.0.1:9', { colour: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_KWARGS',
    });
  });

  it('turngym run plays an OpenEnv server; a server that is down is one line and exit code 2', async () => {
    const server = await openEnvServer();
    const played = await runCli(['run', '--env', `openenv+${server.url}`, '--agent', 'random', '--episodes', '2']);
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toMatch(/2 episodes · success rate \d\.\d{3}/);
    const down = await runCli(['run', '--env', 'openenv+http://127.0.0.1:9', '--agent', 'random']);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(
      /^turngym: Could not reach the OpenEnv server at http:\/\/127\.0\.0\.1:9 .*is it running/,
    );
  });

  describe('both directions at once: a turngym server serving an OpenEnv server that serves a turngym env', () => {
    async function relay(operatorKwargs: Record<string, Record<string, unknown>>): Promise<RemoteServer> {
      const server = await serve({ port: 0, kwargs: operatorKwargs });
      closers.push(() => server.close());
      return server;
    }

    it('serves an OpenEnv address its operator named to protocol v1 clients and to a pool (train --remote)', async () => {
      const openenv = await openEnvServer();
      const id = `openenv+${openenv.url}`;
      const server = await relay({ [id]: {} });
      const client = await RemoteClient.connect(server.url);
      closers.push(() => client.close());
      const env = await client.make(id);
      expect((await env.reset({ seed: 3, options: { difficulty: 1 } })).info).toMatchObject({ seed: 3, difficulty: 1 });
      expect((await env.step('guess(4)')).info).toMatchObject({ tool: 'guess', turn: 1 });
      await env.close();

      const pool = await RemotePool.connect([server.url]);
      closers.push(() => pool.close());
      const pooled = await pool.make(id, {}, { maxTurns: 3 });
      await pooled.reset({ seed: 5 });
      for (let turn = 0; turn < 3; turn++) await pooled.step('guess(1)');
      expect(openenv.activeSessions).toBe(1);
      await pooled.close();
    });

    it('refuses an OpenEnv address its operator did not name, and client kwargs for one it did', async () => {
      const openenv = await openEnvServer();
      const server = await relay({ [`openenv+${openenv.url}`]: {} });
      const client = await RemoteClient.connect(server.url);
      closers.push(() => client.close());
      await expect(client.make('openenv+http://169.254.169.254')).rejects.toMatchObject({
        message: expect.stringContaining("This server does not serve 'openenv+http://169.254.169.254'"),
      });
      await expect(client.make(`openenv+${openenv.url}`, { token: 'mine-mine-mine-mine' })).rejects.toThrow(
        'a remote client may set none of its arguments',
      );
    });
  });
});
