import { afterEach } from 'vitest';
import { z } from 'zod';
import WebSocket from 'ws';
import { type RemoteServer, serve, type ServeOptions } from '../../../src/envs/remote/server.js';
import '../../../src/envs/builtin.js';
import type { StepResult, ToolCall } from '../../../src/envs/env.js';
import { register, list } from '../../../src/envs/registry.js';
import { type Task, TaskEnv } from '../../../src/envs/task.js';
import { type Rng } from '../../../src/core/rng.js';
import { ToolInputError } from '../../../src/core/errors.js';

/**
 * `test/slow-v0`: a real env whose `wait(ms)` tool takes that long (for timeouts, shutdown and reconnects),
 * whose `crash()` tool throws a plain Error (an env bug, for INTERNAL), and whose `answer(text)` ends the
 * episode. `closed` counts closed instances, so tests can see that the server closed its envs.
 */
export const slowEnvStats = { created: 0, closed: 0 };

interface SlowTask extends Task {}

class SlowEnv extends TaskEnv<SlowTask> {
  protected async callTool(call: ToolCall, task: SlowTask): Promise<StepResult> {
    if (call.tool === 'wait') {
      const ms = call.args.ms as number;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { observation: { text: `waited ${ms} ms` }, reward: 0, terminated: false, truncated: false, info: {} };
    }
    if (call.tool === 'crash') throw new Error('the slow env crashed on purpose');
    const text = call.args.text as string;
    if (text === '') throw new ToolInputError('answer needs some text');
    const success = text === task.answer;
    return {
      observation: { text: success ? 'right' : 'wrong' },
      reward: success ? 1 : 0,
      terminated: true,
      truncated: false,
      info: { success },
    };
  }

  protected override async dispose(): Promise<void> {
    slowEnvStats.closed++;
  }
}

export function registerTestEnvs(): void {
  if (list().includes('test/slow-v0')) return;
  register({
    id: 'test/slow-v0',
    description: 'A test env with a slow tool, a crashing tool and an answer.',
    tools: [
      {
        name: 'wait',
        description: 'Waits ms milliseconds.',
        parameters: z.object({ ms: z.number().int().min(0).max(60_000) }),
      },
      { name: 'crash', description: 'Throws (an env bug).', parameters: z.object({}) },
      { name: 'answer', description: 'Answers.', parameters: z.object({ text: z.string() }) },
    ],
    maxTurns: 20,
    kwargs: z.object({}),
    create: (_kwargs, spec) => {
      slowEnvStats.created++;
      return new SlowEnv(
        spec,
        {
          difficulties: [1, 1],
          generate: (rng: Rng) => ({ prompt: 'Say the secret.', answer: `secret-${rng.int(0, 999)}`, difficulty: 1 }),
          verify: () => ({ score: 0, success: false }),
          oracle: () => ({ next: () => ({ tool: 'answer', args: { text: '' } }) }),
        },
        1,
      );
    },
  });
}

/** A bare protocol client for tests: sends raw messages, collects every reply. */
export class RawClient {
  readonly replies: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.replies.push(JSON.parse(data.toString()) as Record<string, unknown>);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(url: string): Promise<RawClient> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects and says hello as the given role. */
  static async hello(url: string, role: 'agent' | 'trainer' = 'agent', token?: string): Promise<RawClient> {
    const client = await RawClient.connect(url);
    const welcome = await client.request({ type: 'hello', id: 'hello', protocol: 1, role, token });
    if (welcome.type !== 'welcome') throw new Error(`hello failed: ${JSON.stringify(welcome)}`);
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** Sends a message and waits for the reply with its id. */
  async request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.send(message);
    return this.reply(message.id as string | number);
  }

  /** Waits for the reply with this id (null: a reply to an unreadable message). */
  async reply(id: string | number | null, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.replies.findIndex((reply) => reply.id === id);
      if (index >= 0) return this.replies.splice(index, 1)[0]!;
      if (this.closeCode !== undefined)
        throw new Error(`connection closed (${this.closeCode}) before the reply to ${id}`);
      if (Date.now() > deadline) throw new Error(`no reply to ${id} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Servers and clients for the tests of one file: `start` serves on a free port, `hello` connects and says
 * hello, `track` adopts a client connected otherwise; after each test every client is closed and every
 * server shut down.
 */
export function serverFixture() {
  let servers: RemoteServer[] = [];
  let clients: RawClient[] = [];
  afterEach(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.close()));
    servers = [];
    clients = [];
  });
  const track = (client: RawClient): RawClient => {
    clients.push(client);
    return client;
  };
  return {
    async start(options: ServeOptions = {}): Promise<RemoteServer> {
      const server = await serve({ port: 0, ...options });
      servers.push(server);
      return server;
    },
    async hello(server: RemoteServer, role: 'agent' | 'trainer' = 'agent', token?: string): Promise<RawClient> {
      return track(await RawClient.hello(server.url, role, token));
    },
    track,
  };
}
