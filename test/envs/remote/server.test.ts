import { beforeAll, describe, expect, it } from 'vitest';
import { RemoteServer, serve } from '../../../src/envs/remote/server.js';
import { RawClient, registerTestEnvs, serverFixture, sleep, slowEnvStats } from './helpers.js';

const GUESS = 'puzzle/guess-number-v0';
const TOKEN = 'a-test-token-of-24-chars';
const { start, hello, track } = serverFixture();

async function makeSession(client: RawClient, env = GUESS): Promise<string> {
  const made = await client.request({ type: 'make', id: `make-${Math.random()}`, env });
  expect(made.type).toBe('made');
  return made.session as string;
}

beforeAll(() => registerTestEnvs());

describe('RemoteServer', () => {
  describe('sessions', () => {
    it('makes, resets, steps and closes an env, echoing request ids', async () => {
      const server = await start();
      const client = await hello(server);
      const made = await client.request({ type: 'make', id: 'm1', env: GUESS, kwargs: { difficulty: 2 } });
      expect(made).toMatchObject({
        type: 'made',
        id: 'm1',
        spec: { id: GUESS, max_turns: 10, deterministic: true, tools: [{ name: 'guess' }] },
      });
      expect(typeof made.resume_token).toBe('string');
      const session = made.session as string;
      const reset = await client.request({ type: 'reset', id: 2, session, seed: 7 });
      expect(reset).toMatchObject({
        type: 'observation',
        id: 2,
        session,
        info: { seed: 7, difficulty: 2, max_turns: 10 },
      });
      expect((reset.observation as { text: string }).text).toContain('from 1 to 16');
      const step = await client.request({ type: 'step', id: 3, session, action: 'guess(8)' });
      expect(step).toMatchObject({
        type: 'step_result',
        id: 3,
        session,
        reward: expect.any(Number),
        terminated: expect.any(Boolean),
        truncated: false,
        info: { tool: 'guess', turn: 1 },
      });
      const structured = await client.request({
        type: 'step',
        id: 4,
        session,
        action: { tool: 'guess', args: { n: 999 } },
      });
      expect(structured.info).toMatchObject({
        error: { code: 'TOOL_ERROR', message: '999 is outside the range 1 to 16; guess a number in it.' },
      });
      expect(await client.request({ type: 'close', id: 5, session })).toEqual({ type: 'closed', id: 5, session });
      expect(await client.request({ type: 'step', id: 6, session, action: 'guess(1)' })).toMatchObject({
        type: 'error',
        id: 6,
        code: 'UNKNOWN_SESSION',
      });
    });

    it('lists the envs with their tools as JSON Schema', async () => {
      const server = await start();
      const client = await hello(server);
      const reply = await client.request({ type: 'list', id: 1 });
      const envs = reply.envs as { id: string; tools: { name: string; parameters: { type: string } }[] }[];
      expect(envs.find((env) => env.id === GUESS)?.tools[0]).toMatchObject({
        name: 'guess',
        parameters: { type: 'object', required: ['n'] },
      });
    });

    it('serves many sessions on one connection independently', async () => {
      const server = await start();
      const client = await hello(server);
      const sessions = await Promise.all(Array.from({ length: 8 }, () => makeSession(client)));
      const resets = await Promise.all(
        sessions.map((session, index) => client.request({ type: 'reset', id: `r${index}`, session, seed: index })),
      );
      expect(new Set(resets.map((reply) => reply.session)).size).toBe(8);
      expect(server.stats()).toMatchObject({ connections: 1, sessions: 8 });
    });

    it('serialises steps on one session in arrival order', async () => {
      const server = await start();
      const client = await hello(server);
      const session = await makeSession(client, 'test/slow-v0');
      await client.request({ type: 'reset', id: 'r', session, seed: 1 });
      client.send({ type: 'step', id: 'slow', session, action: { tool: 'wait', args: { ms: 150 } } });
      client.send({ type: 'step', id: 'fast', session, action: { tool: 'wait', args: { ms: 0 } } });
      const fast = await client.reply('fast');
      expect(fast.info).toMatchObject({ turn: 2 });
      // 'slow' arrived before 'fast' and is still waiting in the list of replies, as turn 1.
      expect(client.replies).toMatchObject([{ id: 'slow', info: { turn: 1 } }]);
    });
  });

  describe('errors', () => {
    it('answers each kind of bad request with its code and a message that says what to do', async () => {
      const server = await start();
      const client = await hello(server);
      client.send('{"type": "list", "id": ');
      expect(await client.reply(null)).toMatchObject({ type: 'error', id: null, code: 'INVALID_JSON' });
      client.send(Buffer.from([1, 2, 3]));
      expect(await client.reply(null)).toEqual({
        type: 'error',
        id: null,
        code: 'INVALID_JSON',
        message: 'Binary frames are not accepted: send each message as one JSON text frame.',
      });
      expect(await client.request({ type: 'dance', id: 'x' })).toEqual({
        type: 'error',
        id: 'x',
        code: 'VALIDATION_ERROR',
        message:
          'Unknown message type "dance"; expected one of hello, list, make, reset, step, close, attach, ground_truth.',
      });
      expect(await client.request({ type: 'reset', id: 'y', session: 5 })).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: 'Invalid reset message: session: Invalid input: expected string, received number.',
      });
      expect(await client.request({ type: 'make', id: 'z', env: 'puzzle/guess-numbr-v0' })).toMatchObject({
        code: 'UNKNOWN_ENV',
        message:
          "No environment is registered as 'puzzle/guess-numbr-v0'. Did you mean 'puzzle/guess-number-v0'? Run `turngym list` to see them all.",
      });
      expect(await client.request({ type: 'make', id: 'k', env: GUESS, kwargs: { difficulty: 99 } })).toMatchObject({
        code: 'VALIDATION_ERROR',
      });
      expect(await client.request({ type: 'step', id: 's', session: 'nope', action: 'x' })).toMatchObject({
        code: 'UNKNOWN_SESSION',
      });
      const session = await makeSession(client);
      expect(await client.request({ type: 'step', id: 'early', session, action: 'guess(1)' })).toMatchObject({
        code: 'EPISODE_ENDED',
        message: `Cannot step '${GUESS}' before reset(): call reset() to start an episode.`,
      });
      const deep = { type: 'list', id: 'deep', junk: JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`) };
      expect(await client.request(deep)).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: 'The message is nested more than 64 levels deep; flatten it.',
      });
    });

    it('refuses a field the protocol does not define, naming the fields it does', async () => {
      const server = await start();
      const client = await hello(server);
      const session = await makeSession(client);
      expect(await client.request({ type: 'reset', id: 'typo', session, seeed: 3 })).toEqual({
        type: 'error',
        id: 'typo',
        code: 'VALIDATION_ERROR',
        message:
          'Invalid reset message: (message): unknown field "seeed"; the fields are type, id, session, seed, options.',
      });
      expect(await client.request({ type: 'list', id: 'extra', verbose: true, all: 1 })).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: 'Invalid list message: (message): unknown fields "verbose", "all"; the fields are type, id.',
      });
    });

    it('maps an env bug to INTERNAL and keeps serving', async () => {
      const server = await start();
      const client = await hello(server);
      const session = await makeSession(client, 'test/slow-v0');
      await client.request({ type: 'reset', id: 'r', session });
      expect(await client.request({ type: 'step', id: 'c', session, action: 'crash()' })).toMatchObject({
        type: 'error',
        code: 'INTERNAL',
        message: 'The env failed: the slow env crashed on purpose',
      });
      expect(await client.request({ type: 'step', id: 'w', session, action: 'wait(0)' })).toMatchObject({
        type: 'step_result',
      });
    });

    it('refuses a message over the payload limit by closing that connection (1009)', async () => {
      const server = await start({ maxPayload: 4096 });
      const client = await hello(server);
      client.send({ type: 'list', id: 1, junk: 'x'.repeat(5000) });
      await expect(client.reply(1)).rejects.toThrow('connection closed (1009)');
      const other = await hello(server);
      expect(await other.request({ type: 'list', id: 2 })).toMatchObject({ type: 'envs' });
    });
  });

  describe('authentication', () => {
    it('needs hello before anything else', async () => {
      const server = await start();
      const client = await RawClient.connect(server.url);
      track(client);
      expect(await client.request({ type: 'list', id: 1 })).toEqual({
        type: 'error',
        id: 1,
        code: 'UNAUTHORIZED',
        message: 'Send hello first: {"type": "hello", "id": 1, "protocol": 1, "role": "agent"}.',
      });
      expect(await client.request({ type: 'hello', id: 2, protocol: 2, role: 'agent' })).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: 'This server speaks protocol 1; hello asked for 2.',
      });
    });

    it('allows the trainer role only with the token, and checks the token for every role', async () => {
      const open = await start();
      const refused = await RawClient.connect(open.url);
      track(refused);
      expect(await refused.request({ type: 'hello', id: 1, protocol: 1, role: 'trainer' })).toMatchObject({
        code: 'UNAUTHORIZED',
      });

      const guarded = await start({ token: TOKEN });
      const noToken = await RawClient.connect(guarded.url);
      track(noToken);
      expect(await noToken.request({ type: 'hello', id: 1, protocol: 1, role: 'agent' })).toMatchObject({
        code: 'UNAUTHORIZED',
        message: 'This server needs a token: send it in hello.',
      });
      const wrong = await RawClient.connect(guarded.url);
      track(wrong);
      expect(
        await wrong.request({ type: 'hello', id: 1, protocol: 1, role: 'agent', token: `${TOKEN}x` }),
      ).toMatchObject({ code: 'UNAUTHORIZED', message: 'The token is wrong.' });
      await expect(wrong.reply('never', 2000)).rejects.toThrow('connection closed (1008)');
      await hello(guarded, 'agent', TOKEN);
    });

    it('gives ground truth to a trainer and never to an agent', async () => {
      const server = await start({ token: TOKEN });
      const agent = await hello(server, 'agent', TOKEN);
      const session = await makeSession(agent);
      await agent.request({ type: 'reset', id: 'r', session, seed: 3 });
      expect(await agent.request({ type: 'ground_truth', id: 'g', session })).toEqual({
        type: 'error',
        id: 'g',
        code: 'UNAUTHORIZED',
        message: 'Only the trainer role may read ground truth; an agent never can.',
      });
      const trainer = await hello(server, 'trainer', TOKEN);
      const trained = await makeSession(trainer);
      expect(await trainer.request({ type: 'ground_truth', id: 'early', session: trained })).toMatchObject({
        code: 'EPISODE_ENDED',
      });
      await trainer.request({ type: 'reset', id: 'r', session: trained, seed: 3 });
      const truth = await trainer.request({ type: 'ground_truth', id: 'g', session: trained });
      expect(truth).toMatchObject({ type: 'ground_truth', session: trained, answer: expect.stringMatching(/^\d+$/) });
      const right = await trainer.request({
        type: 'step',
        id: 's',
        session: trained,
        action: `guess(${truth.answer})`,
      });
      expect(right).toMatchObject({ terminated: true, reward: 1, info: { success: true } });
    });

    it('refuses to bind beyond loopback without a token, and refuses short tokens', () => {
      expect(() => new RemoteServer({ host: '0.0.0.0' })).toThrow(
        'Refusing to listen on 0.0.0.0 without a token: anyone who can reach it could run envs. Pass a token (--token), or bind to 127.0.0.1.',
      );
      expect(() => new RemoteServer({ token: 'short' })).toThrow('The token must have at least 16 characters');
      expect(() => new RemoteServer({ host: '0.0.0.0', token: TOKEN })).not.toThrow();
    });
  });

  describe('limits', () => {
    it('caps sessions per connection and per server', async () => {
      const server = await start({ maxSessionsPerConnection: 2, maxSessions: 3 });
      const first = await hello(server);
      await makeSession(first);
      await makeSession(first);
      expect(await first.request({ type: 'make', id: 'third', env: GUESS })).toMatchObject({
        code: 'CAPACITY_REACHED',
        message: 'This connection holds 2 sessions, its limit: close one, or open another connection.',
      });
      const second = await hello(server);
      await makeSession(second);
      expect(await second.request({ type: 'make', id: 'fourth', env: GUESS })).toMatchObject({
        code: 'CAPACITY_REACHED',
        message: 'The server holds 3 sessions, its limit: close one, or use another server.',
      });
    });

    it('applies backpressure: a burst beyond max in-flight is read later and fully answered', async () => {
      const server = await start({ maxInFlight: 4 });
      const client = await hello(server);
      const session = await makeSession(client);
      await client.request({ type: 'reset', id: 'r', session, options: { maxTurns: 1000 } });
      for (let i = 0; i < 300; i++) client.send({ type: 'step', id: i, session, action: 'guess(40)' });
      for (let i = 0; i < 300; i++) expect((await client.reply(i)).type).toBe('step_result');
    });

    it('answers a stuck step with TIMEOUT and retires its session', async () => {
      const server = await start({ stepTimeoutMs: 100 });
      const client = await hello(server);
      const session = await makeSession(client, 'test/slow-v0');
      await client.request({ type: 'reset', id: 'r', session });
      const closedBefore = slowEnvStats.closed;
      const reply = await client.request({ type: 'step', id: 'stuck', session, action: 'wait(1500)' });
      expect(reply).toMatchObject({
        type: 'error',
        id: 'stuck',
        code: 'TIMEOUT',
        message: `The env did not answer within 100 ms, so session '${session}' was closed (its state is unknown). Make a new session.`,
      });
      expect(await client.request({ type: 'step', id: 'after', session, action: 'wait(0)' })).toMatchObject({
        code: 'UNKNOWN_SESSION',
      });
      await sleep(1600);
      expect(slowEnvStats.closed).toBe(closedBefore + 1);
      expect(client.replies).toEqual([]); // the late result was dropped, not sent
    });

    it('closes idle sessions', async () => {
      const server = await start({ idleTimeoutMs: 150 });
      const client = await hello(server);
      const session = await makeSession(client);
      await sleep(500);
      expect(server.stats().sessions).toBe(0);
      expect(await client.request({ type: 'reset', id: 'r', session })).toMatchObject({ code: 'UNKNOWN_SESSION' });
    });
  });

  describe('dropped connections', () => {
    it("keeps a dropped connection's sessions for the grace period and lets attach take them over", async () => {
      const server = await start({ graceMs: 2000 });
      const first = await hello(server);
      const made = await first.request({ type: 'make', id: 'm', env: GUESS });
      const session = made.session as string;
      await first.request({ type: 'reset', id: 'r', session, seed: 5 });
      await first.request({ type: 'step', id: 's1', session, action: 'guess(3)' });
      first.socket.terminate();
      await sleep(100);
      expect(server.stats()).toMatchObject({ sessions: 1, detached_sessions: 1 });
      const second = await hello(server);
      expect(await second.request({ type: 'attach', id: 'a0', session, resume_token: 'wrong' })).toMatchObject({
        code: 'UNKNOWN_SESSION',
      });
      const attached = await second.request({ type: 'attach', id: 'a', session, resume_token: made.resume_token });
      expect(attached).toMatchObject({
        type: 'attached',
        session,
        spec: { id: GUESS },
        in_progress: [],
        last_reply: { type: 'step_result', id: 's1' },
      });
      const next = await second.request({ type: 'step', id: 's2', session, action: 'guess(4)' });
      expect(next.info).toMatchObject({ turn: 2 });
    });

    it("closes a dropped connection's sessions when nobody attaches in time", async () => {
      const server = await start({ graceMs: 100 });
      const client = await hello(server);
      await makeSession(client, 'test/slow-v0');
      const closedBefore = slowEnvStats.closed;
      client.socket.terminate();
      await sleep(500);
      expect(server.stats().sessions).toBe(0);
      expect(slowEnvStats.closed).toBe(closedBefore + 1);
    });
  });

  describe('#close', () => {
    it('finishes in-flight steps, closes every env, then the connections', async () => {
      const server = await serve({ port: 0 });
      const client = await hello(server);
      const session = await makeSession(client, 'test/slow-v0');
      await makeSession(client, 'test/slow-v0');
      await client.request({ type: 'reset', id: 'r', session });
      const closedBefore = slowEnvStats.closed;
      client.send({ type: 'step', id: 'inflight', session, action: 'wait(300)' });
      await sleep(50);
      const closing = server.close();
      client.send({ type: 'step', id: 'late', session, action: 'wait(0)' });
      expect(await client.reply('late')).toMatchObject({ code: 'CAPACITY_REACHED' });
      expect(await client.reply('inflight')).toMatchObject({
        type: 'step_result',
        observation: { text: 'waited 300 ms' },
      });
      await closing;
      expect(slowEnvStats.closed).toBe(closedBefore + 2);
      await sleep(50);
      expect(client.closeCode).toBe(1001);
      await expect(RawClient.connect(server.url)).rejects.toThrow();
    });

    it('serves GET /healthz on the same port', async () => {
      const server = await start();
      await hello(server);
      const health = server.url.replace('ws:', 'http:').replace('/v1', '/healthz');
      const response = await fetch(health);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', protocol: 1, connections: 1, sessions: 0 });
      expect((await fetch(health.replace('/healthz', '/nothing'))).status).toBe(404);
    });
  });
});
