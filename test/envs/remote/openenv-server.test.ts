import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type OpenEnvServer, type OpenEnvServeOptions, serveOpenEnv } from '../../../src/envs/remote/openenv-server.js';
import { ROOT } from '../../cli/helpers.js';
import { registerTestEnvs, sleep, slowEnvStats } from './helpers.js';

const GUESS = 'puzzle/guess-number-v0';
const TOKEN = 'a-test-token-of-24-chars';
const servers: OpenEnvServer[] = [];
const sockets: WebSocket[] = [];

beforeAll(() => registerTestEnvs());
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: Partial<OpenEnvServeOptions> = {}): Promise<OpenEnvServer> {
  const server = await serveOpenEnv({ env: GUESS, port: 0, ...options });
  servers.push(server);
  return server;
}

/** An OpenEnv session as its client sees it: replies come in order, one per message. */
class Session {
  readonly replies: Record<string, unknown>[] = [];
  closeCode: number | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.replies.push(JSON.parse(data.toString()) as Record<string, unknown>);
      this.wake?.();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(server: OpenEnvServer, headers: Record<string, string> = {}): Promise<Session> {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, { headers });
    sockets.push(socket);
    const session = new Session(socket); // listening before it opens: a server may speak first (CAPACITY_REACHED)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return session;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  async next(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      if (this.closeCode !== undefined) throw new Error(`closed (${this.closeCode}) with no reply`);
      if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.replies.shift()!;
  }

  async ask(message: unknown): Promise<Record<string, unknown>> {
    this.send(message);
    return this.next();
  }

  async closed(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === undefined) {
      if (Date.now() > deadline) throw new Error('still open');
      await sleep(20);
    }
    return this.closeCode;
  }
}

const get = async (server: OpenEnvServer, path: string, init: RequestInit = {}) => {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const post = (server: OpenEnvServer, path: string, body: string, headers: Record<string, string> = {}) =>
  get(server, path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('OpenEnvServer', () => {
  describe('HTTP', () => {
    it("answers health, metadata, state and schema as OpenEnv's server does", async () => {
      const server = await start();
      expect(await get(server, '/health')).toEqual({ status: 200, body: { status: 'healthy' } });
      expect((await get(server, '/metadata')).body).toMatchObject({ name: GUESS, version: '0.1.0' });
      expect((await get(server, '/state')).body).toEqual({
        episode_id: null,
        step_count: 0,
        env_id: GUESS,
        done: false,
        max_turns: 10,
      });
      const schema = (await get(server, '/schema')).body as {
        action: { anyOf: { title: string; properties: Record<string, { const?: string }> }[] };
        observation: { properties: Record<string, unknown> };
        state: { properties: Record<string, unknown> };
      };
      expect(schema.action.anyOf.map((shape) => shape.title)).toEqual([
        'guess call',
        'text',
        'call_tool',
        'list_tools',
      ]);
      expect(schema.action.anyOf[0]!.properties.tool).toEqual({ const: 'guess' });
      expect(Object.keys(schema.observation.properties)).toEqual([
        'text',
        'screenshot',
        'fields',
        'info',
        'terminated',
        'truncated',
      ]);
      expect(Object.keys(schema.state.properties)).toEqual(['episode_id', 'step_count', 'env_id', 'done', 'max_turns']);
    });

    it('resets an env made for the request, and refuses a step that has no episode', async () => {
      const server = await start();
      const reset = await post(server, '/reset', JSON.stringify({ seed: 7, difficulty: 2 }));
      expect(reset).toMatchObject({
        status: 200,
        body: { reward: null, done: false, observation: { info: { seed: 7, difficulty: 2 }, terminated: false } },
      });
      expect((reset.body.observation as { text: string }).text).toContain('from 1 to 16');
      expect((await post(server, '/reset', '')).status).toBe(200); // OpenEnv's body is optional
      const step = await post(server, '/step', JSON.stringify({ action: { text: 'guess(8)' } }));
      expect(step.status).toBe(409);
      expect(step.body.detail).toMatch(/^POST \/step has no episode to act in: .* over the WebSocket session at \/ws/);
      expect((await post(server, '/step', '{}')).body).toEqual({
        detail: [{ type: 'missing', loc: ['body', 'action'], msg: 'Field required' }],
      });
    });

    it('answers bad requests with 4xx and a reason, and nothing else happens', async () => {
      const server = await start({ maxPayload: 2048 });
      expect(await get(server, '/nothing')).toEqual({ status: 404, body: { detail: 'Not Found' } });
      expect(await get(server, '/reset')).toEqual({ status: 405, body: { detail: 'Method Not Allowed' } });
      expect((await post(server, '/reset', '{"seed": ')).body.detail).toEqual([
        expect.objectContaining({ type: 'json_invalid', loc: ['body'] }),
      ]);
      expect((await post(server, '/reset', '[1]')).status).toBe(422);
      expect((await post(server, '/reset', '{"seed": -1}')).body.detail).toEqual([
        expect.objectContaining({ loc: ['body', 'seed'] }),
      ]);
      expect(await post(server, '/reset', '{"colour": "red"}')).toMatchObject({
        status: 422,
        body: {
          detail: expect.stringContaining('unknown option "colour"; the options are difficulty, split, maxTurns'),
        },
      });
      expect((await post(server, '/reset', JSON.stringify({ pad: 'x'.repeat(4096) }))).status).toBe(413);
      expect((await post(server, '/reset', `{"a":${'['.repeat(200)}${']'.repeat(200)}}`)).status).toBe(422);
      expect(await get(server, '/health')).toEqual({ status: 200, body: { status: 'healthy' } });
    });

    it('a client that cuts its connection mid-body costs nothing', async () => {
      const server = await start();
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write(
            'POST /reset HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"seed":',
          );
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
      await sleep(50);
      expect(await get(server, '/health')).toEqual({ status: 200, body: { status: 'healthy' } });
      expect((await post(server, '/reset', '{"seed": 1}')).status).toBe(200);
    });

    it('with a token, refuses every request and upgrade without it', async () => {
      const server = await start({ token: TOKEN });
      expect((await get(server, '/health')).status).toBe(401);
      expect(
        (await get(server, '/health', { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status,
      ).toBe(401);
      expect(await get(server, '/health', { headers: { authorization: `Bearer ${TOKEN}` } })).toEqual({
        status: 200,
        body: { status: 'healthy' },
      });
      await expect(Session.open(server)).rejects.toThrow(/401/);
      const session = await Session.open(server, { authorization: `Bearer ${TOKEN}` });
      expect(await session.ask({ type: 'reset', data: { seed: 1 } })).toMatchObject({ type: 'observation' });
    });

    it('refuses to listen beyond loopback without a token, and a short token', async () => {
      await expect(serveOpenEnv({ env: GUESS, port: 0, host: '0.0.0.0' })).rejects.toThrow(
        'Refusing to listen on 0.0.0.0 without a token',
      );
      await expect(serveOpenEnv({ env: GUESS, port: 0, token: 'short' })).rejects.toThrow('at least 16 characters');
      await expect(serveOpenEnv({ env: 'puzzle/nothing-v0', port: 0 })).rejects.toThrow(
        "No environment is registered as 'puzzle/nothing-v0'",
      );
      await expect(serveOpenEnv({ env: GUESS, port: 0, kwargs: { colour: 1 } })).rejects.toThrow(/colour/);
    });
  });

  describe('WebSocket sessions', () => {
    it('plays an episode: reset, steps in every action shape, state, close', async () => {
      const server = await start();
      const session = await Session.open(server);
      const reset = await session.ask({ type: 'reset', data: { seed: 7, episode_id: 'episode-1', difficulty: 2 } });
      expect(reset).toMatchObject({
        type: 'observation',
        data: { reward: null, done: false, observation: { info: { seed: 7, difficulty: 2 }, truncated: false } },
      });
      expect(await session.ask({ type: 'step', data: { tool: 'guess', args: { n: 8 } } })).toMatchObject({
        type: 'observation',
        data: { reward: expect.any(Number), observation: { info: { tool: 'guess', turn: 1 } } },
      });
      expect(
        await session.ask({ type: 'step', data: { text: 'guess(4)', metadata: { source: 'test' } } }),
      ).toMatchObject({ data: { observation: { info: { tool: 'guess', turn: 2 } } } });
      expect(
        await session.ask({ type: 'step', data: { type: 'call_tool', tool_name: 'guess', arguments: { n: 12 } } }),
      ).toMatchObject({
        // OpenEnv's CallToolObservation fields too, which its MCPToolClient.call_tool reads (result.data).
        data: {
          observation: {
            info: { tool: 'guess', turn: 3 },
            tool_name: 'guess',
            result: { content: [{ type: 'text' }], data: expect.stringMatching(/^12: /), is_error: false },
            error: null,
          },
        },
      });
      const tools = await session.ask({ type: 'step', data: { type: 'list_tools' } });
      expect(tools).toMatchObject({
        type: 'observation',
        data: {
          reward: null,
          done: false,
          observation: { tools: [{ name: 'guess', input_schema: { type: 'object' } }] },
        },
      });
      // An agent mistake is an observation, as everywhere in turngym; it takes a turn.
      expect(await session.ask({ type: 'step', data: { tool: 'fly', args: {} } })).toMatchObject({
        type: 'observation',
        data: { observation: { info: { error: { code: 'UNKNOWN_TOOL' }, turn: 4 } } },
      });
      expect(await session.ask({ type: 'state' })).toEqual({
        type: 'state',
        data: { episode_id: 'episode-1', step_count: 4, env_id: GUESS, done: false, max_turns: 10 },
      });
      // Binary search to the end: done comes with terminated and the env's success.
      let low = 1;
      let high = 16;
      let last: Record<string, unknown> = {};
      for (let turn = 0; turn < 6; turn++) {
        const guess = Math.floor((low + high) / 2);
        last = (await session.ask({ type: 'step', data: { tool: 'guess', args: { n: guess } } })).data as Record<
          string,
          unknown
        >;
        const text = (last.observation as { text: string }).text;
        if (last.done) break;
        if (text.includes('higher')) low = guess + 1;
        else high = guess - 1;
      }
      expect(last).toMatchObject({ done: true, reward: 1, observation: { terminated: true, info: { success: true } } });
      expect(await session.ask({ type: 'step', data: { text: 'guess(1)' } })).toMatchObject({
        type: 'error',
        data: { code: 'EXECUTION_ERROR', message: expect.stringMatching(/has terminated; call reset\(\)/) },
      });
      session.send({ type: 'close' });
      expect(await session.closed()).toBe(1000);
      await waitFor(() => server.activeSessions === 0);
    });

    it("answers each malformed message with OpenEnv's error codes and goes on", async () => {
      const server = await start();
      const session = await Session.open(server);
      const expectError = async (message: unknown, code: string, text?: RegExp) => {
        const reply = await session.ask(message);
        expect(reply).toMatchObject({ type: 'error', data: { code } });
        if (text) expect((reply.data as { message: string }).message).toMatch(text);
        return reply;
      };
      await expectError('{"type": ', 'INVALID_JSON', /^Invalid JSON: /);
      await expectError(Buffer.from([1, 2, 3]), 'INVALID_JSON', /Binary frames/);
      await expectError('[1, 2]', 'VALIDATION_ERROR');
      await expectError({ type: 'fly' }, 'UNKNOWN_TYPE', /^Unknown message type: "fly"/);
      await expectError({ data: {} }, 'UNKNOWN_TYPE');
      expect(await expectError({ type: 'state', extra: 1 }, 'VALIDATION_ERROR')).toMatchObject({
        data: { message: 'Invalid message', errors: [{ type: 'unrecognized_keys' }] },
      });
      expect(await expectError({ type: 'reset', data: { seed: 1.5 } }, 'VALIDATION_ERROR')).toMatchObject({
        data: { errors: [{ loc: ['seed'] }] },
      });
      await expectError({ type: 'reset', data: { episode_id: 'x'.repeat(300) } }, 'VALIDATION_ERROR');
      await expectError({ type: 'reset', data: { colour: 'red' } }, 'VALIDATION_ERROR', /unknown option "colour"/);
      await expectError({ type: 'step', data: { text: 'guess(3)' } }, 'EXECUTION_ERROR', /reset/i);
      await expectError({ type: 'step', data: { bogus: 1 } }, 'VALIDATION_ERROR');
      await expectError({ type: 'step', data: { tool: 'guess', text: 'guess(1)' } }, 'VALIDATION_ERROR');
      await expectError({ type: 'step' }, 'VALIDATION_ERROR');
      await expectError(
        `{"type":"step","data":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`,
        'VALIDATION_ERROR',
        /nested/,
      );
      expect(await session.ask({ type: 'reset', data: { seed: 2 } })).toMatchObject({ type: 'observation' });
    });

    it('an env bug is EXECUTION_ERROR without its stack, and the session goes on', async () => {
      const log: string[] = [];
      const server = await start({ env: 'test/slow-v0', log: (line) => log.push(line) });
      const session = await Session.open(server);
      await session.ask({ type: 'reset', data: { seed: 1 } });
      const reply = await session.ask({ type: 'step', data: { tool: 'crash', args: {} } });
      expect(reply).toEqual({
        type: 'error',
        data: { code: 'EXECUTION_ERROR', message: 'The env failed: the slow env crashed on purpose' },
      });
      expect(log.some((line) => line.includes('internal error: Error: the slow env crashed on purpose\n    at '))).toBe(
        true,
      );
      expect(await session.ask({ type: 'step', data: { tool: 'wait', args: { ms: 1 } } })).toMatchObject({
        type: 'observation',
      });
    });

    it('a step past the step timeout is EXECUTION_ERROR, and its session and env are closed', async () => {
      const server = await start({ env: 'test/slow-v0', stepTimeoutMs: 200 });
      const session = await Session.open(server);
      await session.ask({ type: 'reset', data: { seed: 1 } });
      const closedBefore = slowEnvStats.closed;
      const reply = await session.ask({ type: 'step', data: { tool: 'wait', args: { ms: 2000 } } });
      expect(reply).toMatchObject({
        type: 'error',
        data: { code: 'EXECUTION_ERROR', message: expect.stringContaining('did not answer within 200 ms') },
      });
      expect(await session.closed()).toBe(1011);
      await waitFor(() => slowEnvStats.closed > closedBefore && server.activeSessions === 0);
    });

    it('a step that outlived the step timeout still holds its place until it ends', async () => {
      const server = await start({ env: 'test/slow-v0', stepTimeoutMs: 100, maxSessions: 1 });
      const session = await Session.open(server);
      await session.ask({ type: 'reset', data: { seed: 1 } });
      expect(await session.ask({ type: 'step', data: { tool: 'wait', args: { ms: 1500 } } })).toMatchObject({
        data: { code: 'EXECUTION_ERROR' },
      });
      const refused = await Session.open(server);
      expect(await refused.next()).toMatchObject({ data: { code: 'CAPACITY_REACHED' } });
      expect((await post(server, '/reset', '{}')).status).toBe(503);
      await sleep(1600);
      const later = await Session.open(server);
      expect(await later.ask({ type: 'reset', data: { seed: 2 } })).toMatchObject({ type: 'observation' });
    });

    it('holds at most maxSessions; one more is told CAPACITY_REACHED and closed', async () => {
      const server = await start({ maxSessions: 2 });
      const first = await Session.open(server);
      const second = await Session.open(server);
      expect(await first.ask({ type: 'reset', data: {} })).toMatchObject({ type: 'observation' });
      const third = await Session.open(server);
      expect(await third.next()).toEqual({
        type: 'error',
        data: {
          code: 'CAPACITY_REACHED',
          message: expect.stringContaining('holds 2 sessions, its limit'),
          active_sessions: 2,
          max_sessions: 2,
        },
      });
      expect(await third.closed()).toBe(1000);
      expect((await post(server, '/reset', '{}')).status).toBe(503);
      second.send({ type: 'close' });
      await second.closed();
      await waitFor(() => server.activeSessions === 1);
      const fourth = await Session.open(server);
      expect(await fourth.ask({ type: 'reset', data: {} })).toMatchObject({ type: 'observation' });
    });

    it('a flood of connections costs at most twice maxSessions sockets; the sessions it holds go on', async () => {
      const server = await start({ maxSessions: 2 });
      const held = await Session.open(server);
      expect(await held.ask({ type: 'reset', data: {} })).toMatchObject({ type: 'observation' });
      await Session.open(server); // the second session: the server is full
      const attempts = await Promise.allSettled(Array.from({ length: 60 }, () => Session.open(server)));
      const accepted = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
      for (const attempt of attempts)
        if (attempt.status === 'rejected') expect(String(attempt.reason)).toMatch(/Unexpected server response: 503/);
      // Beyond 2 x maxSessions sockets at once an upgrade is refused with 503; below it, told the server is full.
      expect(accepted.length).toBeGreaterThan(0);
      expect(accepted.length).toBeLessThan(60); // the rest were refused before any WebSocket was made
      for (const session of accepted)
        expect(await session.next()).toMatchObject({ data: { code: 'CAPACITY_REACHED' } });
      expect(await held.ask({ type: 'step', data: { text: 'guess(3)' } })).toMatchObject({ type: 'observation' });
      expect(server.activeSessions).toBeLessThanOrEqual(2);
    });

    it('closes a session idle past its timeout, telling it why', async () => {
      const server = await start({ sessionTimeoutMs: 150 });
      const session = await Session.open(server);
      expect(await session.ask({ type: 'reset', data: {} })).toMatchObject({ type: 'observation' });
      expect(await session.next(5000)).toMatchObject({
        type: 'error',
        data: { code: 'SESSION_ERROR', message: expect.stringContaining('idle for 150 ms') },
      });
      expect(await session.closed()).toBe(1000);
      expect(server.activeSessions).toBe(0);
    });

    it('a flood of messages is served in order, reading no more than maxQueued ahead', async () => {
      const server = await start({ maxQueued: 4 });
      const session = await Session.open(server);
      session.send({ type: 'reset', data: { seed: 3 } });
      for (let index = 0; index < 300; index++) session.send({ type: 'state' });
      expect((await session.next()).type).toBe('observation');
      for (let index = 0; index < 300; index++) expect((await session.next()).type).toBe('state');
    });

    it('a client that does not read its replies is not served beyond maxBufferedBytes, and loses none', async () => {
      const server = await start({ maxBufferedBytes: 16 * 1024, maxQueued: 8 });
      const session = await Session.open(server);
      session.socket.pause(); // reads nothing from here on
      // 40,000 replies of about 300 bytes: more than the kernel's socket buffers hold.
      const count = 40_000;
      for (let index = 0; index < count; index++) session.send({ type: 'step', data: { type: 'list_tools' } });
      let most = 0;
      for (let poll = 0; poll < 120; poll++) {
        most = Math.max(most, server.unreadBytes);
        await sleep(25);
      }
      // The kernel's socket buffers take some; what the server holds in memory stays near the limit.
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThan(16 * 1024 + 1024);
      session.socket.resume();
      for (let index = 0; index < count; index++) expect((await session.next()).type).toBe('observation');
    });

    it('closes a session with more than four times maxBufferedBytes unread (1008)', async () => {
      // A limit below one reply's size: the first reply the kernel cannot take puts the session over four times it.
      const server = await start({ maxBufferedBytes: 64, maxQueued: 8 });
      const session = await Session.open(server);
      session.socket.pause();
      for (let index = 0; index < 40_000; index++) session.send({ type: 'step', data: { type: 'list_tools' } });
      await waitFor(() => server.activeSessions === 0);
      session.socket.resume();
      expect(await session.closed()).toBe(1008);
    });

    it('closes a connection whose message exceeds maxPayload (1009), and serves the others', async () => {
      const server = await start({ maxPayload: 4096 });
      const big = await Session.open(server);
      const other = await Session.open(server);
      big.send({ type: 'step', data: { text: 'x'.repeat(10_000) } });
      expect(await big.closed()).toBe(1009);
      expect(await other.ask({ type: 'reset', data: {} })).toMatchObject({ type: 'observation' });
    });

    it('a session that drops mid-step has its env closed once the step ends', async () => {
      const server = await start({ env: 'test/slow-v0' });
      const session = await Session.open(server);
      await session.ask({ type: 'reset', data: { seed: 1 } });
      const closedBefore = slowEnvStats.closed;
      session.send({ type: 'step', data: { tool: 'wait', args: { ms: 300 } } });
      await sleep(50);
      session.socket.terminate();
      await waitFor(() => server.activeSessions === 0);
      expect(slowEnvStats.closed).toBe(closedBefore); // not under the running step's feet
      await waitFor(() => slowEnvStats.closed > closedBefore);
    });

    it('close() lets a running step finish, closes every session (1001) and stops listening', async () => {
      const server = await serveOpenEnv({ env: 'test/slow-v0', port: 0 });
      const session = await Session.open(server);
      await session.ask({ type: 'reset', data: { seed: 1 } });
      session.send({ type: 'step', data: { tool: 'wait', args: { ms: 300 } } });
      await sleep(50);
      await server.close();
      expect(await session.next()).toMatchObject({
        type: 'observation',
        data: { observation: { text: 'waited 300 ms' } },
      });
      expect(await session.closed()).toBe(1001);
      await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    });
  });

  describe("with a Python client speaking OpenEnv's wire format (examples/python/openenv_client.py)", () => {
    // openenv-core itself is not on this machine's package index (docs/openenv.md): the example speaks what its
    // EnvClient sends, message for message, with the websockets package the test Python has.
    it.each([
      ['puzzle/guess-number-v0', {}],
      ['code/calc-v0', {}],
      ['search/multihop-v0', { size: 40 }],
      ['web/forms-v0', {}],
    ] as const)(
      'plays full episodes of %s with a random policy',
      async (env, kwargs) => {
        const server = await start({ env, kwargs });
        const { stdout } = await promisify(execFile)(
          python(),
          [
            'examples/python/openenv_client.py',
            '--url',
            server.url,
            '--episodes',
            '2',
            '--max-turns',
            '3',
            '--seed',
            '5',
          ],
          { cwd: ROOT },
        );
        const summary = JSON.parse(stdout) as Record<string, unknown>;
        expect(summary).toMatchObject({ env, health: 'healthy', episodes: 2, last_state: { env_id: env, done: true } });
        expect(summary.steps).toBeGreaterThanOrEqual(2);
        expect(summary.steps).toBeLessThanOrEqual(6);
        await waitFor(() => server.activeSessions === 0); // the client closed its session
      },
      120_000,
    );
  });
});

function python(): string {
  const found = inject('python');
  if ('problem' in found) throw new Error(found.problem);
  return found.path;
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
