import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { runEpisode } from '../../../src/agent/agent.js';
import { RemoteAgent, serveAgent } from '../../../src/agent/remote/agent.js';
import { make } from '../../../src/envs/registry.js';
import { serve } from '../../../src/envs/remote/server.js';
import '../../../src/envs/builtin.js';
import { ROOT, runCli } from '../../cli/helpers.js';
import { RawClient } from '../../envs/remote/helpers.js';
import { closedPort, withPortInUse } from '../../envs/remote/servers.js';
import { ensureTestPython } from '../../setup/python.js';

const GUESS = 'puzzle/guess-number-v0';
const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGTERM');
  for (const close of closers.splice(0).reverse()) await close();
});

/** The Python that runs the Python examples: made by the test setup (test/setup/python.ts), or why there is none. */
function python(): string {
  const found = inject('python');
  if ('problem' in found) throw new Error(found.problem);
  return found.path;
}

/** Starts a process that prints "... listening on ws://..." and resolves with that URL. */
function startListening(command: string, args: string[]): Promise<string> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

describe('remote agents', () => {
  it('turngym run drives the TypeScript example agent server', async () => {
    const url = await startListening(process.execPath, ['--import', 'tsx', 'examples/agent-server.ts', '--port', '0']);
    const result = await runCli([
      'run',
      '--env',
      GUESS,
      '--agent',
      url.replace('/v1', ''),
      '--episodes',
      '3',
      '--difficulty',
      '4',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    // The example plays by bisection, so it always finds the number within the horizon at difficulty 4.
    expect(JSON.parse(result.stdout)).toMatchObject({
      env: GUESS,
      agent: url.replace('/v1', ''),
      episodes: 3,
      success_rate: 1,
    });
  });

  it('the TypeScript example says in one line what to do when its port is in use (exit code 2)', async () => {
    await withPortInUse(async (port) => {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'examples/agent-server.ts', '--port', String(port)], {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let output = '';
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('close', (exitCode) => resolve({ code: exitCode, stderr: output }));
      });
      expect(code).toBe(2);
      expect(stderr).toBe(
        `agent server: Cannot listen on 127.0.0.1:${port}: the port is in use (another server?). Stop what holds it, or choose another port (--port; 0 takes any free one).\n`,
      );
    });
  });

  it('turngym run drives the Python example agent server', async () => {
    const url = await startListening(python(), ['examples/python/agent_server.py', '--port', '0']);
    const result = await runCli(['run', '--env', GUESS, '--agent', url, '--episodes', '2', '--json']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ env: GUESS, agent: url, episodes: 2 });
  });

  it('the Python client plays episodes on a turngym server with a random policy', async () => {
    const server = await serve({ port: 0 });
    closers.push(() => server.close());
    // Asynchronously: the server runs in this process and must keep answering.
    const { stdout } = await promisify(execFile)(
      python(),
      ['examples/python/client.py', '--url', server.url, '--env', GUESS, '--episodes', '4', '--seed', '3'],
      { cwd: ROOT },
    );
    const summary = JSON.parse(stdout) as { episodes: number; steps: number };
    expect(summary).toMatchObject({ env: GUESS, episodes: 4 });
    expect(summary.steps).toBeGreaterThanOrEqual(4);
    expect(server.stats().sessions).toBe(0); // the client closed its session
  });

  it('passes logprobs and usage through, and reports agent errors and invalid replies as AGENT_FAILURE', async () => {
    const agentServer = await serveAgent(
      (request) => {
        if (request.turn === 2) throw new Error('the model is out of memory');
        return {
          action: { tool: 'guess', args: { n: request.turn + 1 } },
          logprobs: [-0.5, -0.25],
          usage: { prompt_tokens: 10, completion_tokens: 2 },
        };
      },
      { port: 0 },
    );
    closers.push(() => agentServer.close());
    const agent = await RemoteAgent.connect(agentServer.url);
    closers.push(() => agent.close());
    const env = await make(GUESS, { difficulty: 5 });
    closers.push(() => env.close());
    const failure = await runEpisode(env, agent, { seed: 11 }).catch((error: unknown) => error);
    expect(failure).toMatchObject({
      code: 'AGENT_FAILURE',
      message: 'The agent server answered INTERNAL: The policy failed: the model is out of memory',
    });

    // A direct look at a successful turn: logprobs and usage come back converted.
    agent.start({ spec: env.spec, observation: { text: 'x' }, info: { seed: 1 } });
    expect(await agent.act({ text: 'x' }, { seed: 1 })).toEqual({
      action: { tool: 'guess', args: { n: 1 } },
      logprobs: [-0.5, -0.25],
      usage: { promptTokens: 10, completionTokens: 2 },
    });

    // A server that answers with nonsense.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket: WebSocket) =>
      socket.on('message', (data) =>
        socket.send(JSON.stringify({ type: 'action', id: JSON.parse(data.toString()).id })),
      ),
    );
    closers.push(() => new Promise((resolve) => wss.close(() => resolve())));
    const confused = await RemoteAgent.connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    closers.push(() => confused.close());
    confused.start({ spec: env.spec, observation: { text: 'x' }, info: { seed: 1 } });
    await expect(confused.act({ text: 'x' }, { seed: 1 })).rejects.toMatchObject({
      code: 'AGENT_FAILURE',
      message: expect.stringContaining('sent an invalid reply'),
    });
  });

  it('an agent server answers malformed requests with errors and keeps serving', async () => {
    const agentServer = await serveAgent(() => ({ action: 'guess(1)' }), { port: 0 });
    closers.push(() => agentServer.close());
    const client = await RawClient.connect(agentServer.url);
    client.send('not json');
    expect(await client.reply(null)).toMatchObject({ type: 'error', code: 'INVALID_JSON' });
    expect(await client.request({ type: 'act', id: 5 })).toMatchObject({
      type: 'error',
      id: 5,
      code: 'VALIDATION_ERROR',
    });
    const act = {
      type: 'act',
      id: 6,
      env: GUESS,
      episode: 'e',
      turn: 0,
      observation: { text: 'hi' },
      info: {},
      tools: [],
    };
    expect(await client.request({ ...act, id: 7, temperature: 0.7 })).toEqual({
      type: 'error',
      id: 7,
      code: 'VALIDATION_ERROR',
      message:
        'Expected an act message: (message): unknown field "temperature"; the fields are type, id, env, episode, turn, observation, info, tools.',
    });
    expect(await client.request(act)).toEqual({ type: 'action', id: 6, action: 'guess(1)' });
    client.close();
  });

  it('says in one line what to do when no agent server is listening, or the URL is not one (exit code 2)', async () => {
    const port = await closedPort();
    const result = await runCli(['run', '--env', GUESS, '--agent', `ws://127.0.0.1:${port}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `turngym: Could not connect to the agent server at ws://127.0.0.1:${port}/v1 (connect ECONNREFUSED 127.0.0.1:${port}): is it running, and is that its address?\n`,
    );
    const bad = await runCli(['run', '--env', GUESS, '--agent', 'ws://127.0.0.1:port']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "turngym: 'ws://127.0.0.1:port' is not the URL of an agent server: write ws://HOST:PORT (or wss://), e.g. ws://127.0.0.1:8765.\n",
    );
  });
});

describe('an agent server that misbehaves', () => {
  /** A real agent server over a real socket whose every reply to an act is `answer(act)` (nothing when undefined). */
  async function misbehaving(answer: (act: { id: number }) => unknown): Promise<string> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket: WebSocket) =>
      socket.on('message', (data) => {
        const reply = answer(JSON.parse(data.toString()));
        if (reply !== undefined) socket.send(JSON.stringify(reply));
      }),
    );
    closers.push(() => new Promise((resolve) => wss.close(() => resolve())));
    return `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  }

  it('that answers with another id fails the run at once, naming both ids', async () => {
    const url = await misbehaving((act) => ({ type: 'action', id: act.id + 7, action: 'guess(1)' }));
    const result = await runCli(['run', '--env', GUESS, '--agent', url, '--agent-timeout', '600000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `turngym: The agent server at ${url} answered with id 8, but the act waiting for its reply has id 1: an agent server must echo the id of the act it answers.\n`,
    );
  });

  it('that adds a field the protocol does not define fails the run, naming the fields it does', async () => {
    const url = await misbehaving((act) => ({
      type: 'action',
      id: act.id,
      action: 'guess(1)',
      thought: 'one is a fine start',
    }));
    const result = await runCli(['run', '--env', GUESS, '--agent', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `turngym: The agent server at ${url} sent an invalid reply ((message): unknown field "thought"; the fields are type, id, action, logprobs, usage); expected {"type": "action", "id", "action"}.\n`,
    );
  });

  it('that never answers times out after --agent-timeout', async () => {
    const url = await misbehaving(() => undefined);
    const result = await runCli(['run', '--env', GUESS, '--agent', url, '--agent-timeout', '300']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `turngym: The agent server at ${url} did not answer act 1 within 300 ms: make it answer every act, or wait longer (--agent-timeout MS).\n`,
    );
  });

  it("that answers an error, with the act's id or without one, fails the run at once with its message in one line", async () => {
    const failing = await misbehaving((act) => ({
      type: 'error',
      id: act.id,
      code: 'INTERNAL',
      message: 'The policy failed: out of memory',
    }));
    const failed = await runCli(['run', '--env', GUESS, '--agent', failing]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe('turngym: The agent server answered INTERNAL: The policy failed: out of memory\n');

    const url = await misbehaving(() => ({
      type: 'error',
      id: null,
      code: 'INVALID_JSON',
      message: 'The message is not valid JSON.',
    }));
    const result = await runCli(['run', '--env', GUESS, '--agent', url, '--agent-timeout', '600000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `turngym: The agent server at ${url} answered INVALID_JSON: The message is not valid JSON.\n`,
    );
  });

  it('drops the late reply to an act that timed out, and the next act goes on', async () => {
    let acts = 0;
    const url = await misbehaving((act) =>
      ++acts === 1 ? undefined : { type: 'action', id: act.id, action: 'guess(2)' },
    );
    const agent = await RemoteAgent.connect(url, { actTimeoutMs: 200 });
    closers.push(() => agent.close());
    const env = await make(GUESS);
    closers.push(() => env.close());
    agent.start({ spec: env.spec, observation: { text: 'x' }, info: { seed: 1 } });
    await expect(agent.act({ text: 'x' }, { seed: 1 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await agent.act({ text: 'x' }, { seed: 1 })).toEqual({ action: 'guess(2)' });
  });

  it('--agent-timeout is refused for an agent that runs in this process', async () => {
    const result = await runCli(['run', '--env', GUESS, '--agent', 'oracle', '--agent-timeout', '1000']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "turngym: An agent timeout (--agent-timeout) is for remote agents (ws://HOST:PORT, openai:MODEL); 'oracle' runs in this process.\n",
    );
  });
});

describe('the Python the example tests use', () => {
  it('is made by the test setup, and a machine without Python is told what is missing in one line', () => {
    const found = inject('python');
    expect(found).toHaveProperty('path');
    const empty = mkdtempSync(join(tmpdir(), 'turngym-no-python-'));
    try {
      const missing = ensureTestPython(join(empty, 'venv'), { PATH: empty });
      expect(missing).toEqual({
        problem: expect.stringMatching(
          /^Python 3 is not installed \(no python3 on the PATH\): the Python example tests need it\. Install it \(Debian: apt-get install -y python3 python3-venv\)/,
        ),
      });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
