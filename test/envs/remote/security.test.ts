/**
 * A hostile agent-role client (no token) against a real server over real sockets (issue 35): kwargs that
 * name host resources, sessions of other connections, clients that never read, too many connections.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RemoteClient } from '../../../src/envs/remote/client.js';
import { RemoteServer } from '../../../src/envs/remote/server.js';
import { RawClient, registerTestEnvs, serverFixture, sleep } from './helpers.js';

const TOKEN = 'a-test-token-of-24-chars';
const SECRET = 'root:TOP-SECRET-HASH:19000:0:99999:7:::';
const directory = mkdtempSync(join(tmpdir(), 'turngym-security-'));
/** A file a client must never read: one line that is not JSON, as /etc/shadow's are. */
const secretFile = join(directory, 'shadow');
const documents = join(directory, 'docs.jsonl');
const questions = join(directory, 'questions.jsonl');

const { start, hello, track } = serverFixture();
let sockets: Socket[] = [];

let requests = 0;
function make(client: RawClient, env: string, kwargs: Record<string, unknown>): Promise<Record<string, unknown>> {
  return client.request({ type: 'make', id: `make-${requests++}`, env, kwargs });
}

beforeAll(() => {
  registerTestEnvs();
  writeFileSync(secretFile, `${SECRET}\n`);
  writeFileSync(
    documents,
    '{"id": "d1", "title": "Harbour", "text": "The harbour master of Ravenport is Ada Quell."}\n',
  );
  writeFileSync(
    questions,
    '{"question": "Who is the harbour master of Ravenport?", "answers": ["Ada Quell"], "supporting": ["d1"]}\n',
  );
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(() => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
});

describe('kwargs from remote clients', () => {
  it('refuses path kwargs by name: no file is read, written or created, and an existing path answers as a missing one', async () => {
    const server = await start();
    const client = await hello(server);
    const missing = join(directory, 'no-such-file');
    const existing = await make(client, 'search/corpus-v0', { documents: secretFile, questions: secretFile });
    const absent = await make(client, 'search/corpus-v0', { documents: missing, questions: missing });
    expect(existing).toMatchObject({ type: 'error', code: 'VALIDATION_ERROR' });
    expect(existing.message).toContain(
      "documents: only the server's operator may set it (turngym serve --kwargs); a remote client may set 'reward', 'pageChars'",
    );
    expect(JSON.stringify(existing)).not.toContain('SECRET');
    expect(JSON.stringify(existing)).not.toContain(secretFile);
    expect({ ...absent, id: existing.id }).toEqual(existing);
    expect(
      JSON.stringify(
        await make(client, 'search/corpus-v0', { documents: '/proc/self/environ', questions: '/proc/self/environ' }),
      ),
    ).not.toContain('PATH=');

    // An index path at an existing file, and an index folder that does not exist: neither is touched.
    const victim = join(directory, 'victim.txt');
    writeFileSync(victim, 'keep me');
    expect(await make(client, 'search/corpus-v0', { documents, questions, indexPath: victim })).toMatchObject({
      code: 'VALIDATION_ERROR',
    });
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    const folder = join(directory, 'created-by-a-client');
    expect(await make(client, 'search/multihop-v0', { size: 40, indexDirectory: folder })).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining("indexDirectory: only the server's operator may set it"),
    });
    expect(existsSync(folder)).toBe(false);
  });

  it('refuses sandbox limits and sizes past the remote bounds from every role (the token reads ground truth, it does not spend the server)', async () => {
    const server = await start({ token: TOKEN });
    const agent = await hello(server, 'agent', TOKEN);
    const trainer = await hello(server, 'trainer', TOKEN);
    for (const client of [agent, trainer]) {
      expect(await make(client, 'code/calc-v0', { memoryLimitMb: 2048 })).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: expect.stringContaining(
          "memoryLimitMb: only the server's operator may set it (turngym serve --kwargs); a remote client may set 'difficulty', 'kinds'",
        ),
      });
    }
    for (const client of [agent, trainer]) {
      expect(await make(client, 'search/multihop-v0', { size: 100_000 })).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: "Invalid arguments for 'search/multihop-v0':\n  - size: Too big: expected number to be <=5000",
      });
    }
    expect(await make(agent, 'code/calc-v0', { kinds: Array.from({ length: 65 }, () => 'collatz') })).toMatchObject({
      code: 'VALIDATION_ERROR',
    });
    expect(await make(agent, 'puzzle/guess-number-v0', { difficulty: 4, colour: 'red' })).toMatchObject({
      code: 'VALIDATION_ERROR',
      message:
        "Invalid arguments for 'puzzle/guess-number-v0':\n  - colour: unknown argument; a remote client may set 'difficulty'",
    });
    // An env that declares no remote kwargs takes none.
    expect(await make(agent, 'test/slow-v0', { anything: 1 })).toMatchObject({
      message: expect.stringContaining('a remote client may set none of its arguments'),
    });
    expect(await make(agent, 'puzzle/guess-number-v0', { difficulty: 4 })).toMatchObject({ type: 'made' });

    // list shows every client what it may set, with its bounds.
    const kwargsOf = async (client: RawClient, env: string) => {
      const reply = await client.request({ type: 'list', id: `list-${requests++}` });
      return (reply.envs as { id: string; kwargs: { properties: Record<string, { maximum?: number }> } }[]).find(
        (entry) => entry.id === env,
      )!.kwargs;
    };
    const agentView = await kwargsOf(agent, 'search/multihop-v0');
    expect(Object.keys(agentView.properties)).toEqual([
      'difficulty',
      'size',
      'distractors',
      'kbSeed',
      'worlds',
      'reward',
      'pageChars',
      'results',
      'snippetChars',
    ]);
    expect(agentView).toMatchObject({
      additionalProperties: false,
      properties: { size: { maximum: 5000 }, pageChars: { maximum: 20_000 } },
    });
    expect(await kwargsOf(trainer, 'search/multihop-v0')).toEqual(agentView);
    expect(Object.keys((await kwargsOf(agent, 'code/calc-v0')).properties)).toEqual(['difficulty', 'kinds']);
    expect(Object.keys((await kwargsOf(agent, 'web/wiki-v0')).properties)).toEqual([
      'difficulty',
      'screenshot',
      'maxTreeChars',
      'kbSize',
    ]);
  });

  it("applies the operator's kwargs, which no client can see or override", async () => {
    const server = await start({
      kwargs: { 'search/corpus-v0': { documents, questions, indexPath: join(directory, 'operator.sqlite') } },
    });
    const client = await hello(server);
    const made = await make(client, 'search/corpus-v0', { reward: 'exact' });
    expect(made).toMatchObject({ type: 'made' });
    const reset = await client.request({ type: 'reset', id: 'r', session: made.session, seed: 0 });
    expect((reset.observation as { text: string }).text).toContain('Who is the harbour master of Ravenport?');
    const step = await client.request({ type: 'step', id: 's', session: made.session, action: 'answer("Ada Quell")' });
    expect(step).toMatchObject({ reward: 1, terminated: true });
    expect(await make(client, 'search/corpus-v0', { documents: secretFile })).toMatchObject({
      code: 'VALIDATION_ERROR',
      message:
        "Invalid arguments for 'search/corpus-v0':\n  - documents: fixed by this server's operator; a remote client may set 'reward', 'pageChars'",
    });
    const listed = await client.request({ type: 'list', id: 'l' });
    const corpus = (listed.envs as { id: string; kwargs: { properties: Record<string, unknown> } }[]).find(
      (entry) => entry.id === 'search/corpus-v0',
    )!;
    expect(Object.keys(corpus.kwargs.properties)).toEqual(['reward', 'pageChars']);
    expect(JSON.stringify(listed)).not.toContain(directory);
  });

  it("answers a client whose make fails on the operator's kwargs without the operator's detail", async () => {
    const lines: string[] = [];
    const server = await start({
      kwargs: { 'search/corpus-v0': { documents: secretFile, questions } },
      log: (line) => lines.push(line),
    });
    const client = await hello(server);
    const reply = await make(client, 'search/corpus-v0', {});
    expect(reply).toMatchObject({
      code: 'INTERNAL',
      message: "This server's operator set kwargs for 'search/corpus-v0' that do not work; the server's log says why.",
    });
    expect(lines.join('\n')).toContain(`${secretFile}: line 1 is not JSON`);
    expect(lines.join('\n')).not.toContain('SECRET');
  });

  it("checks the operator's kwargs when the server starts", () => {
    expect(() => new RemoteServer({ kwargs: { 'puzzle/guess-number-v0': { difficulty: 99 } } })).toThrow(
      "Invalid arguments for 'puzzle/guess-number-v0'",
    );
    expect(() => new RemoteServer({ kwargs: { 'puzzle/guess-number-v0': { colour: 'red' } } })).toThrow(
      'colour: unknown argument',
    );
    expect(() => new RemoteServer({ kwargs: { 'puzzle/guess-numbr-v0': {} } })).toThrow(
      "Did you mean 'puzzle/guess-number-v0'?",
    );
  });
});

describe('sessions of other connections', () => {
  it("answers reset, step and close on another connection's session exactly as on an unknown id", async () => {
    const server = await start();
    const owner = await hello(server);
    const made = await make(owner, 'puzzle/guess-number-v0', {});
    const session = made.session as string;
    const thief = await hello(server);
    const unknown = `s-${'A'.repeat(session.length - 2)}`;
    for (const [index, message] of [
      { type: 'reset' },
      { type: 'step', action: 'guess(1)' },
      { type: 'close' },
    ].entries()) {
      const theirs = await thief.request({ ...message, id: index, session });
      const nobodys = await thief.request({ ...message, id: index, session: unknown });
      expect(theirs).toMatchObject({ type: 'error', code: 'UNKNOWN_SESSION' });
      expect({ ...theirs, message: (theirs.message as string).replace(session, 'ID') }).toEqual({
        ...nobodys,
        message: (nobodys.message as string).replace(unknown, 'ID'),
      });
    }
    // The owner's session is untouched.
    expect(await owner.request({ type: 'reset', id: 'mine', session, seed: 1 })).toMatchObject({ type: 'observation' });
  });
});

/** Opens a raw TCP connection, upgrades it to WebSocket and says hello as an agent; it never reads a byte. */
async function rawAgent(server: RemoteServer): Promise<Socket> {
  const socket = connect(server.port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  socket.write(frame({ type: 'hello', id: 'hello', protocol: 1, role: 'agent' }));
  return socket;
}

/** A masked client text frame (mask key 0, so the payload is sent as is). */
function frame(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  const length =
    payload.length < 126
      ? Buffer.from([0x80 | payload.length])
      : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([Buffer.from([0x81]), length, Buffer.alloc(4), payload]);
}

describe('backpressure and connection limits', () => {
  it('bounds what a client that never reads holds on the server, and keeps serving everyone else', async () => {
    const maxInFlight = 8;
    const maxBufferedBytes = 64 * 1024;
    const server = await start({ maxInFlight, maxBufferedBytes });
    const attackers = await Promise.all([rawAgent(server), rawAgent(server)]);
    // One write of 2,000 requests each (about 40 KB), then more, never reading a reply (list replies are large).
    for (let batch = 0; batch < 5; batch++) {
      for (const socket of attackers)
        socket.write(
          Buffer.concat(Array.from({ length: 2000 }, (_, i) => frame({ type: 'list', id: batch * 2000 + i }))),
        );
    }
    const bystander = await hello(server);
    let samples = 0;
    let peakWaiting = 0;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const stats = server.stats();
      expect(stats.in_flight).toBeLessThanOrEqual(2 * maxInFlight);
      expect(stats.buffered_bytes).toBeLessThanOrEqual(2 * (4 * maxBufferedBytes + 64 * 1024));
      peakWaiting = Math.max(peakWaiting, stats.waiting);
      samples++;
      await sleep(20);
    }
    expect(samples).toBeGreaterThan(10);
    // What was read but not served is what had arrived before the server stopped reading: a few chunks, not all 20,000.
    expect(peakWaiting).toBeLessThan(10_000);
    // Others are served all along.
    expect(await bystander.request({ type: 'list', id: 'still-there' })).toMatchObject({ type: 'envs' });
    const health = await fetch(server.url.replace('ws:', 'http:').replace('/v1', '/healthz'));
    expect(await health.json()).toMatchObject({ status: 'ok', connections: expect.any(Number) });
  });

  it('closes a connection whose unread replies pass four times the bound (1008)', async () => {
    const server = await start({ maxBufferedBytes: 1024, maxInFlight: 64 });
    const client = await hello(server);
    client.socket.pause(); // stops reading: the server's replies pile up unread
    // 1,000 replies of about 20 KB: more than the kernel's socket buffers hold.
    for (let i = 0; i < 1000; i++) client.send({ type: 'list', id: i });
    await sleep(1000);
    client.socket.resume();
    await expect(client.reply('never', 5000)).rejects.toThrow('connection closed (1008)');
    while (server.stats().connections > 0) await sleep(20);
  });

  it('refuses connections beyond maxConnections with a clear answer, and /healthz still answers', async () => {
    const server = await start({ maxConnections: 2 });
    await hello(server);
    const idle = track(await RawClient.connect(server.url));
    const refused = new WebSocket(server.url);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      refused.once('open', () => reject(new Error('a third connection was accepted')));
      refused.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, body }));
      });
    });
    expect(answer).toEqual({
      status: 503,
      body: 'The server holds 2 connections, its limit: try again later, or use another server.',
    });
    await expect(RemoteClient.connect(server.url, { reconnectAttempts: 0 })).rejects.toThrow(
      `Could not connect to ${server.url}: the server answered HTTP 503: The server holds 2 connections, its limit: try again later, or use another server.`,
    );
    const health = await fetch(server.url.replace('ws:', 'http:').replace('/v1', '/healthz'));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', connections: 2 });
    idle.close();
    while (server.stats().connections > 1) await sleep(20);
    await hello(server);
  });
});
