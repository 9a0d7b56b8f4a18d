import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RemoteClient, RemoteError } from '../../../src/envs/remote/client.js';
import { RemoteServer, serve } from '../../../src/envs/remote/server.js';
import { checkEnv } from '../../../src/envs/check.js';
import { TurngymError } from '../../../src/core/errors.js';
import { registerTestEnvs, sleep } from './helpers.js';

const GUESS = 'puzzle/guess-number-v0';
const TOKEN = 'a-test-token-of-24-chars';

/**
 * A TCP proxy between client and server, so a test can cut the network the way it fails in life: drop every
 * connection, or silently swallow one direction first (a reply lost in flight, a request that never arrived).
 */
class FlakyProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  swallowToClient = false;
  swallowToServer = false;
  private constructor(private readonly server: Server) {}

  static async start(targetPort: number): Promise<FlakyProxy> {
    const server = createServer();
    const proxy = new FlakyProxy(server);
    server.on('connection', (client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      proxy.pairs.add(pair);
      client.on('data', (chunk) => proxy.swallowToServer || upstream.write(chunk));
      upstream.on('data', (chunk) => proxy.swallowToClient || client.write(chunk));
      const end = () => {
        client.destroy();
        upstream.destroy();
        proxy.pairs.delete(pair);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    const address = this.server.address() as { port: number };
    return `ws://127.0.0.1:${address.port}/v1`;
  }

  /** Cuts every connection at once, as a network failure would. */
  drop(): void {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.swallowToClient = false;
    this.swallowToServer = false;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let server: RemoteServer;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => registerTestEnvs());

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.close();
});

async function connectTo(url: string, options: Parameters<typeof RemoteClient.connect>[1] = {}): Promise<RemoteClient> {
  const client = await RemoteClient.connect(url, options);
  cleanups.push(() => client.close());
  return client;
}

describe('RemoteClient.connect', () => {
  it('adds /v1 to a URL without a path, as --agent ws://HOST:PORT does', async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(`ws://127.0.0.1:${server.port}`);
    expect(client.url).toBe(server.url);
    expect(client.server).toBe('turngym 0.1.0');
  });

  it('refuses another path saying where the protocol is, and a URL that is not ws:// as INVALID_OPTIONS', async () => {
    server = await serve({ port: 0 });
    await expect(RemoteClient.connect(`ws://127.0.0.1:${server.port}/v2`, { reconnectAttempts: 0 })).rejects.toThrow(
      `Could not connect to ws://127.0.0.1:${server.port}/v2: the server answered HTTP 404: This server speaks protocol 1 at /v1.`,
    );
    await expect(RemoteClient.connect(`http://127.0.0.1:${server.port}/v1`)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: `'http://127.0.0.1:${server.port}/v1' is not the URL of a turngym server: write ws://HOST:PORT (or wss://), e.g. ws://127.0.0.1:8765.`,
    });
  });
});

describe('RemoteEnv', () => {
  it('passes checkEnv', async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(server.url);
    const env = await client.make(GUESS, { difficulty: 4 });
    const report = await checkEnv(env);
    expect(report.failures).toEqual([]);
    expect(report.checks).toContain('malformed actions are error observations');
  });

  it("rebuilds the tools' zod schemas from JSON Schema", async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(server.url);
    const env = await client.make(GUESS);
    const guess = env.spec.tools[0]!;
    expect(guess.name).toBe('guess');
    expect(guess.parameters.safeParse({ n: 3 }).success).toBe(true);
    expect(guess.parameters.safeParse({ n: 'three' }).success).toBe(false);
  });

  it('raises typed errors: call order locally, server errors as RemoteError with both codes', async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(server.url);
    await expect(client.make('nope/nothing-v0')).rejects.toMatchObject({
      name: 'RemoteError',
      code: 'UNKNOWN_ENV',
      wireCode: 'UNKNOWN_ENV',
    });
    const env = await client.make(GUESS);
    await expect(env.step('guess(1)')).rejects.toSatisfy((error: unknown) => TurngymError.is(error, 'RESET_NEEDED'));
    const error = await env.reset({ options: { difficulty: 99 } }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({
      code: 'INVALID_OPTIONS',
      wireCode: 'VALIDATION_ERROR',
      message: `${GUESS}: difficulty must be an integer from 1 to 12, got 99`,
    });
    await expect(env.fetchGroundTruth()).rejects.toMatchObject({ wireCode: 'UNAUTHORIZED' });
    await expect(env.reset({ options: { dificulty: 3 } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      wireCode: 'VALIDATION_ERROR',
      message: `${GUESS} reset: unknown option "dificulty"; the options are difficulty, split, maxTurns.`,
    });
  });

  it('answers an action over the size limit with ACTION_TOO_LARGE and counts the turn', async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(server.url);
    const env = await client.make(GUESS);
    await env.reset({ seed: 1 });
    const huge = await env.step({ tool: 'guess', args: { n: 'x'.repeat(2 * 1024 * 1024) } } as never);
    expect(huge.info).toMatchObject({ error: { code: 'ACTION_TOO_LARGE' }, turn: 1 });
  });

  it('wraps the session in the standard stack, whose horizon reaches the server', async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(server.url);
    const env = await client.make('test/slow-v0', {}, { maxTurns: 22 });
    expect((await env.reset({ seed: 1 })).info.max_turns).toBe(22);
    const flags = [];
    for (let turn = 1; turn <= 22; turn++) flags.push((await env.step('wait(0)')).truncated);
    expect(flags.indexOf(true)).toBe(21);
    await expect(env.step('wait(0)')).rejects.toThrow(
      "The episode of 'test/slow-v0' has truncated; call reset() to start a new one before stepping.",
    );
    await env.close();
    await expect(env.fetchGroundTruth()).rejects.toSatisfy((error: unknown) => TurngymError.is(error, 'ENV_CLOSED'));
  });

  it('reads ground truth as a trainer with the token', async () => {
    server = await serve({ port: 0, token: TOKEN });
    const trainer = await connectTo(server.url, { role: 'trainer', token: TOKEN });
    const env = await trainer.make(GUESS);
    await env.reset({ seed: 9 });
    const answer = await env.fetchGroundTruth();
    const result = await env.step({ tool: 'guess', args: { n: Number(answer) } });
    expect(result).toMatchObject({ terminated: true, info: { success: true } });
  });

  it('lets another connection attach a session with its resume token', async () => {
    server = await serve({ port: 0 });
    const first = await connectTo(server.url);
    const env = await first.make(GUESS);
    await env.reset({ seed: 2 });
    await env.step('guess(1)');
    const second = await connectTo(server.url);
    const taken = await second.attach(env.session, env.resumeToken);
    expect((await taken.step('guess(2)')).info).toMatchObject({ turn: 2 });
    await expect(env.step('guess(3)')).rejects.toMatchObject({ wireCode: 'UNKNOWN_SESSION' });
  });
});

describe('RemoteClient reconnecting', () => {
  async function setUp() {
    server = await serve({ port: 0, graceMs: 5000 });
    const proxy = await FlakyProxy.start(server.port);
    cleanups.push(() => proxy.close());
    const client = await connectTo(proxy.url, { reconnectDelayMs: 20 });
    const env = await client.make('test/slow-v0');
    await env.reset({ seed: 1 });
    return { proxy, client, env };
  }

  it('waits for a step the server was still serving when the connection dropped', async () => {
    const { proxy, env } = await setUp();
    const step = env.step('wait(300)');
    await sleep(80);
    proxy.drop();
    const result = await step;
    expect(result).toMatchObject({ observation: { text: 'waited 300 ms' }, info: { turn: 1 } });
    expect((await env.step('wait(0)')).info).toMatchObject({ turn: 2 });
  });

  it("recovers a reply lost in flight from attach's last_reply (the step is not repeated)", async () => {
    const { proxy, env } = await setUp();
    proxy.swallowToClient = true;
    const step = env.step('wait(10)');
    await sleep(150);
    proxy.drop();
    expect((await step).info).toMatchObject({ turn: 1 });
    expect((await env.step('wait(0)')).info).toMatchObject({ turn: 2 });
  });

  it('sends again a request the server never received', async () => {
    const { proxy, env } = await setUp();
    proxy.swallowToServer = true;
    const step = env.step('wait(10)');
    await sleep(100);
    proxy.drop();
    expect((await step).info).toMatchObject({ turn: 1 });
    expect((await env.step('wait(0)')).info).toMatchObject({ turn: 2 });
  });

  it('gives up with a clear error when the server is gone', async () => {
    server = await serve({ port: 0 });
    const client = await connectTo(server.url, { reconnectAttempts: 2, reconnectDelayMs: 10 });
    const env = await client.make(GUESS);
    await env.reset();
    await server.close();
    await expect(env.step('guess(1)')).rejects.toThrow(/dropped and 2 reconnect attempts failed/);
  });
});
