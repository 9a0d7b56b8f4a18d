/**
 * Remote agents over WebSocket: turngym sends `act {observation, tools, ...}`, the agent server answers
 * `action {action, logprobs?, usage?}` (see protocol.ts and docs/protocol.md).
 *
 * - {@link RemoteAgent}: the turngym side, an `Agent` that asks an agent server for every action
 *   (`turngym run --env ID --agent ws://HOST:PORT`).
 * - {@link serveAgent}: the agent side for TypeScript, turning a policy function into an agent server
 *   (examples/agent-server.ts; examples/python/agent_server.py is the same in Python).
 */
import { createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import type { Observation, ResetInfo, StepInfo } from '../../envs/env.js';
import { describeError, TurngymError } from '../../core/errors.js';
import { isLoopback, listenOn } from '../../envs/remote/server.js';
import type { Agent, AgentAction, EpisodeStart } from '../agent.js';
import {
  AgentReply,
  AgentRequest,
  describeIssues,
  endpointUrl,
  PROTOCOL_PATH,
  toolsToWire,
  type WireErrorCode,
  type WireObservation,
  type WireTool,
} from './protocol.js';

/** How long (ms) a {@link RemoteAgent} waits for each action unless told otherwise (`--agent-timeout`). */
export const DEFAULT_ACT_TIMEOUT_MS = 120_000;

/** Options of {@link RemoteAgent.connect}. */
export interface RemoteAgentOptions {
  /** How long (ms) to wait for each action (`turngym run --agent-timeout`). [default 120000] */
  actTimeoutMs?: number;
  /** How long (ms) to wait for the connection. [default 10000] */
  connectTimeoutMs?: number;
}

/**
 * An agent that lives in another process, reached over WebSocket. Each `act` waits at most `actTimeoutMs`
 * (TIMEOUT); a reply whose id is not the id of the act waiting fails that act at once (AGENT_FAILURE naming both
 * ids), as does an `error` the agent server sends without an id.
 */
export class RemoteAgent implements Agent {
  readonly name: string;
  private nextId = 1;
  private episodes = 0;
  private episode = '';
  private turn = 0;
  private env = '';
  private tools: WireTool[] = [];
  private readonly waiting = new Map<
    number,
    { resolve(reply: AgentReply): void; reject(error: Error): void; timer: NodeJS.Timeout }
  >();
  /** Ids of acts that timed out: their replies may still come, late, and are dropped. */
  private readonly timedOut = new Set<number>();

  private constructor(
    private readonly socket: WebSocket,
    readonly url: string,
    private readonly actTimeoutMs: number,
  ) {
    this.name = url;
    socket.on('message', (data) => this.onMessage(data as Buffer));
    socket.on('error', () => undefined);
    socket.on('close', () => this.failAll(`The agent server at ${url} closed the connection.`));
  }

  /**
   * Connects to an agent server. A URL without a path gets `/v1`; a URL that is not ws:// is INVALID_OPTIONS,
   * a server that cannot be reached UNREACHABLE.
   */
  static async connect(url: string, options: RemoteAgentOptions = {}): Promise<RemoteAgent> {
    const target = endpointUrl(url, 'an agent server');
    const socket = new WebSocket(target, {
      handshakeTimeout: options.connectTimeoutMs ?? 10_000,
      maxPayload: 64 * 1024 * 1024,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', (error) =>
        reject(
          new TurngymError(
            'UNREACHABLE',
            `Could not connect to the agent server at ${target} (${describeError(error)}): is it running, and is that its address?`,
          ),
        ),
      );
    });
    return new RemoteAgent(socket, url, options.actTimeoutMs ?? DEFAULT_ACT_TIMEOUT_MS);
  }

  start(episode: EpisodeStart): void {
    this.episodes++;
    this.episode = `${process.pid}-${this.episodes}`;
    this.turn = 0;
    this.env = episode.spec.id;
    this.tools = toolsToWire(episode.spec.tools);
  }

  async act(observation: Observation, info: ResetInfo | StepInfo): Promise<AgentAction> {
    const id = this.nextId++;
    const request: AgentRequest = {
      type: 'act',
      id,
      env: this.env,
      episode: this.episode,
      turn: this.turn++,
      observation: observation as WireObservation,
      info,
      tools: this.tools,
    };
    const reply = await new Promise<AgentReply>((resolve, reject) => {
      if (this.socket.readyState !== WebSocket.OPEN) {
        reject(new TurngymError('AGENT_FAILURE', `The connection to the agent server at ${this.url} is closed.`));
        return;
      }
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.timedOut.add(id);
        if (this.timedOut.size > 1024) this.timedOut.delete(this.timedOut.values().next().value!);
        reject(
          new TurngymError(
            'TIMEOUT',
            `The agent server at ${this.url} did not answer act ${id} within ${this.actTimeoutMs} ms: make it answer every act, or wait longer (--agent-timeout MS).`,
          ),
        );
      }, this.actTimeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify(request));
    });
    if (reply.type === 'error')
      throw new TurngymError('AGENT_FAILURE', `The agent server answered ${reply.code}: ${reply.message}`);
    return {
      action: reply.action as AgentAction['action'],
      ...(reply.logprobs ? { logprobs: reply.logprobs } : {}),
      ...(reply.usage
        ? { usage: { promptTokens: reply.usage.prompt_tokens, completionTokens: reply.usage.completion_tokens } }
        : {}),
    };
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(1000);
      setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 1000).unref();
    });
  }

  private onMessage(data: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(data.toString());
    } catch {
      this.failAll(`The agent server at ${this.url} sent a message that is not JSON.`);
      return;
    }
    const parsed = AgentReply.safeParse(value);
    const id = (value as { id?: unknown } | null)?.id;
    const waiter = typeof id === 'number' ? this.waiting.get(id) : undefined;
    if (!waiter) {
      if (typeof id === 'number' && this.timedOut.delete(id)) return; // the late reply to an act that timed out
      if (this.waiting.size === 0) return;
      const expected = [...this.waiting.keys()].join(' or ');
      if (parsed.success && parsed.data.type === 'error' && parsed.data.id === null) {
        this.failAll(`The agent server at ${this.url} answered ${parsed.data.code}: ${parsed.data.message}`);
      } else {
        this.failAll(
          `The agent server at ${this.url} answered with id ${JSON.stringify(id)?.slice(0, 64) ?? '(none)'}, but the act waiting for its reply has id ${expected}: an agent server must echo the id of the act it answers.`,
        );
      }
      return;
    }
    this.waiting.delete(id as number);
    clearTimeout(waiter.timer);
    if (parsed.success) waiter.resolve(parsed.data);
    else {
      waiter.reject(
        new TurngymError(
          'AGENT_FAILURE',
          `The agent server at ${this.url} sent an invalid reply (${describeIssues(parsed.error.issues, 3)}); expected {"type": "action", "id", "action"}.`,
        ),
      );
    }
  }

  private failAll(message: string): void {
    for (const waiter of this.waiting.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new TurngymError('AGENT_FAILURE', message));
    }
    this.waiting.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The agent side

/** What an agent server's policy is given for each turn. */
export interface ActRequest {
  env: string;
  /** Stable across an episode's turns. */
  episode: string;
  /** 0 on an episode's first observation. */
  turn: number;
  observation: WireObservation;
  info: Record<string, unknown>;
  tools: WireTool[];
}

/** What a policy returns: the action, and optionally token log-probs and usage (wire form). */
export interface ActDecision {
  action: unknown;
  logprobs?: number[];
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface ServeAgentOptions {
  /** [default '127.0.0.1'] Only loopback: an agent server trusts whoever connects. */
  host?: string;
  /** [default 8766]; 0 picks a free port. */
  port?: number;
  /** Largest message accepted, in bytes. [default 16 MiB] */
  maxPayload?: number;
}

/** A running agent server; `url` is what `turngym run --agent` takes. */
export interface AgentServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves a policy as a remote agent: each `act` is answered with the policy's `action`, or with an
 * `error` when the request is malformed or the policy throws (the server stays up either way).
 */
export async function serveAgent(
  policy: (request: ActRequest) => ActDecision | Promise<ActDecision>,
  options: ServeAgentOptions = {},
): Promise<AgentServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host))
    throw new TurngymError(
      'INVALID_OPTIONS',
      `serveAgent binds to loopback only (got ${host}): an agent server has no authentication.`,
    );
  const http = createServer((_request, response) => {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(`turngym agent server: connect over WebSocket at ${PROTOCOL_PATH}`);
  });
  const wss = new WebSocketServer({ server: http, maxPayload: options.maxPayload ?? 16 * 1024 * 1024 });
  wss.on('error', () => undefined); // the HTTP server's own errors, passed on: listenOn reports them
  wss.on('connection', (socket) => {
    socket.on('error', () => undefined);
    socket.on('message', async (data, isBinary) => {
      const reply = (id: unknown, body: Record<string, unknown>) =>
        socket.send(JSON.stringify({ id: typeof id === 'string' || typeof id === 'number' ? id : null, ...body }));
      const fail = (id: unknown, code: WireErrorCode, message: string) => reply(id, { type: 'error', code, message });
      if (isBinary) return fail(null, 'INVALID_JSON', 'Binary frames are not accepted: send JSON text.');
      let value: unknown;
      try {
        value = JSON.parse(data.toString());
      } catch (error) {
        return fail(null, 'INVALID_JSON', `The message is not valid JSON (${describeError(error)}).`);
      }
      const parsed = AgentRequest.safeParse(value);
      const id = (value as { id?: unknown } | null)?.id;
      if (!parsed.success)
        return fail(id, 'VALIDATION_ERROR', `Expected an act message: ${describeIssues(parsed.error.issues, 1)}.`);
      const { type: _type, id: requestId, ...request } = parsed.data;
      try {
        const decision = await policy(request);
        reply(requestId, { type: 'action', ...decision });
      } catch (error) {
        fail(requestId, 'INTERNAL', `The policy failed: ${describeError(error)}`);
      }
    });
  });
  await listenOn(http, options.port ?? 8766, host);
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8766);
  return {
    url: `ws://${host}:${port}${PROTOCOL_PATH}`,
    port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
