import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { runEpisode } from '../../../src/agent/agent.js';
import { RemoteAgent, serveAgent } from '../../../src/agent/remote/agent.js';
import { serve } from '../../../src/agent/remote/server.js';
import { make } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';
import { ROOT, runCli } from '../../cli/helpers.js';
import { RawClient } from './helpers.js';
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
    const result = await runCli(['run', '--env', GUESS, '--agent', url.replace('/v1', ''), '--episodes', '3', '--difficulty', '4', '--json']);
    expect(result.stderr).toBe('');
    // The example plays by bisection, so it always finds the number within the horizon at difficulty 4.
    expect(JSON.parse(result.stdout)).toMatchObject({ env: GUESS, agent: url.replace('/v1', ''), episodes: 3, success_rate: 1 });
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
    const { stdout } = await promisify(execFile)(python(), ['examples/python/client.py', '--url', server.url, '--env', GUESS, '--episodes', '4', '--seed', '3'], { cwd: ROOT });
    const summary = JSON.parse(stdout) as { episodes: number; steps: number };
    expect(summary).toMatchObject({ env: GUESS, episodes: 4 });
    expect(summary.steps).toBeGreaterThanOrEqual(4);
    expect(server.stats().sessions).toBe(0); // the client closed its session
  });

  it('passes logprobs and usage through, and reports agent errors and invalid replies as AGENT_FAILURE', async () => {
    const agentServer = await serveAgent(
      (request) => {
        if (request.turn === 2) throw new Error('the model is out of memory');
        return { action: { tool: 'guess', args: { n: request.turn + 1 } }, logprobs: [-0.5, -0.25], usage: { prompt_tokens: 10, completion_tokens: 2 } };
      },
      { port: 0 },
    );
    closers.push(() => agentServer.close());
    const agent = await RemoteAgent.connect(agentServer.url);
    closers.push(() => agent.close());
    const env = await make(GUESS, { difficulty: 5 });
    closers.push(() => env.close());
    const failure = await runEpisode(env, agent, { seed: 11 }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'AGENT_FAILURE', message: 'The agent server answered INTERNAL: The policy failed: the model is out of memory' });

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
    wss.on('connection', (socket: WebSocket) => socket.on('message', (data) => socket.send(JSON.stringify({ type: 'action', id: JSON.parse(data.toString()).id }))));
    closers.push(() => new Promise((resolve) => wss.close(() => resolve())));
    const confused = await RemoteAgent.connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    closers.push(() => confused.close());
    confused.start({ spec: env.spec, observation: { text: 'x' }, info: { seed: 1 } });
    await expect(confused.act({ text: 'x' }, { seed: 1 })).rejects.toMatchObject({ code: 'AGENT_FAILURE', message: expect.stringContaining('sent an invalid reply') });
  });

  it('an agent server answers malformed requests with errors and keeps serving', async () => {
    const agentServer = await serveAgent(() => ({ action: 'guess(1)' }), { port: 0 });
    closers.push(() => agentServer.close());
    const client = await RawClient.connect(agentServer.url);
    client.send('not json');
    expect(await client.reply(null)).toMatchObject({ type: 'error', code: 'INVALID_JSON' });
    expect(await client.request({ type: 'act', id: 5 })).toMatchObject({ type: 'error', id: 5, code: 'VALIDATION_ERROR' });
    const act = { type: 'act', id: 6, env: GUESS, episode: 'e', turn: 0, observation: { text: 'hi' }, info: {}, tools: [] };
    expect(await client.request(act)).toEqual({ type: 'action', id: 6, action: 'guess(1)' });
    client.close();
  });

  it('fails clearly when no agent server is listening', async () => {
    const result = await runCli(['run', '--env', GUESS, '--agent', 'ws://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Could not connect to the agent server at ws://127.0.0.1:9/v1');
  });
});

describe('the Python the example tests use', () => {
  it('is made by the test setup, and a machine without Python is told what is missing in one line', () => {
    const found = inject('python');
    expect(found).toHaveProperty('path');
    const empty = mkdtempSync(join(tmpdir(), 'turngym-no-python-'));
    try {
      const missing = ensureTestPython(join(empty, 'venv'), { PATH: empty });
      expect(missing).toEqual({ problem: expect.stringMatching(/^Python 3 is not installed \(no python3 on the PATH\): the Python example tests need it\. Install it \(Debian: apt-get install -y python3 python3-venv\)/) });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
