/**
 * The TypeScript client of the env protocol: a {@link RemoteClient} is one connection to one server; each
 * {@link RemoteEnv} it makes is an `Env` whose calls travel over that connection.
 *
 *   const client = await RemoteClient.connect('ws://127.0.0.1:8765/v1');
 *   const env = await client.make('puzzle/guess-number-v0', { difficulty: 4 });
 *   const { observation } = await env.reset({ seed: 1 });
 *   const result = await env.step({ tool: 'guess', args: { n: 16 } });
 *   await client.close();
 *
 * When the connection drops, the client reconnects (with backoff), says hello again and `attach`es every
 * session it holds; a request whose reply was lost is matched with the server's `last_reply`, waited for
 * when the server still serves it, or sent again when the server never got it. So a dropped connection loses
 * no step and repeats none.
 *
 * A {@link RemoteSession} (the bare env in a RemoteEnv) talks only to the {@link SessionChannel} interface, which
 * a client implements; a pool of clients over many endpoints can pin each session to its endpoint's client too.
 */
import WebSocket from 'ws';
import type { Action, Env, EnvSpec, ResetOptions, ResetResult, StepResult } from '../env.js';
import { EnvClosedError, TurngymError, describeError } from '../../core/errors.js';
import { type WrapOptions, WrappedEnv } from '../wrappers.js';
import {
  type ClientMessage,
  endpointUrl,
  errorCodeOf,
  PROTOCOL_VERSION,
  type ServerMessage,
  specFromWire,
  type WireErrorCode,
  type WireLimits,
} from './protocol.js';

/** An error the server answered with; `wireCode` is the protocol's code, `code` the matching turngym code. */
export class RemoteError extends TurngymError {
  constructor(
    readonly wireCode: WireErrorCode,
    message: string,
  ) {
    super(errorCodeOf(wireCode), message);
    this.name = 'RemoteError';
  }
}

/**
 * The connection to a server was lost (it closed, reconnecting was off or failed, or a pool gave up on the
 * server after failed health checks). Every request waiting on it is rejected with this at once, so nothing
 * waits for a dead server. It is retryable: the same request on a session elsewhere can succeed (a
 * {@link RemotePool} does that itself, see pool.ts).
 */
export class ConnectionLostError extends RemoteError {
  /** Always true: the fault is the connection's, not the request's. */
  readonly retryable = true;
  constructor(
    /** The server's URL. */
    readonly url: string,
    message: string,
  ) {
    super('INTERNAL', message);
    this.name = 'ConnectionLostError';
  }
}

type RequestId = string | number;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as a caller writes it: the client adds the `id`. */
export type Request = DistributiveOmit<ClientMessage, 'id'>;
type Reply<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** What a {@link RemoteSession} needs from a connection. */
export interface SessionChannel {
  /** Sends a request and resolves with its reply; an `error` reply rejects with a {@link RemoteError}. */
  request(message: Request): Promise<ServerMessage>;
  /** The session ended (closed or lost): stop attaching it after reconnects. */
  forget(session: string): void;
}

/** Options of {@link RemoteClient.connect}. */
export interface RemoteClientOptions {
  /** `agent` (default) or `trainer` (may read ground truth; needs the token). */
  role?: 'agent' | 'trainer';
  /** The server's token, when it has one. */
  token?: string;
  /** How long (ms) a request waits for its reply before failing with TIMEOUT. [default 120000] */
  requestTimeoutMs?: number;
  /** Reconnect attempts after a dropped connection; 0 turns reconnecting off. [default 8] */
  reconnectAttempts?: number;
  /** Delay (ms) before the first reconnect attempt; doubled each attempt, at most 2 s. [default 100] */
  reconnectDelayMs?: number;
  /** How long (ms) to wait for the connection to open. [default 10000] */
  connectTimeoutMs?: number;
  /** Called once when the connection is lost for good (not after `close()`), with the reason. */
  onLost?: (reason: string) => void;
}

interface Pending {
  readonly message: ClientMessage;
  readonly session: string | undefined;
  readonly deadline: number;
  resolve(reply: ServerMessage): void;
  reject(error: Error): void;
}

const SESSION_TYPES = new Set(['reset', 'step', 'close', 'ground_truth']);

/** One connection to a turngym server. */
export class RemoteClient implements SessionChannel {
  private socket: WebSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  /** Live sessions made (or attached) through this client, with their resume tokens. */
  private readonly sessions = new Map<string, string>();
  private state: 'open' | 'reconnecting' | 'closed' = 'open';
  private reconnecting: Promise<void> | undefined;
  /** Why the client is closed, for the error of every later request. */
  private closedReason = 'close() was called';
  /** Set when the connection was lost (rather than closed by `close()`). */
  private lostReason: string | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private readonly options: Required<Omit<RemoteClientOptions, 'token' | 'onLost'>> &
    Pick<RemoteClientOptions, 'token' | 'onLost'>;
  /** The server's limits, from its `welcome`. */
  limits: WireLimits | undefined;
  /** The server's name and version, from its `welcome`. */
  server: string | undefined;

  private constructor(
    readonly url: string,
    options: RemoteClientOptions,
  ) {
    this.options = {
      role: options.role ?? 'agent',
      token: options.token,
      requestTimeoutMs: options.requestTimeoutMs ?? 120_000,
      reconnectAttempts: options.reconnectAttempts ?? 8,
      reconnectDelayMs: options.reconnectDelayMs ?? 100,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      onLost: options.onLost,
    };
    this.sweeper = setInterval(
      () => this.expireRequests(),
      Math.min(1000, Math.max(10, this.options.requestTimeoutMs / 4)),
    );
    this.sweeper.unref();
  }

  /**
   * Connects, says hello, and resolves once the server welcomed the client. A URL without a path gets `/v1`
   * (`ws://127.0.0.1:8765` is `ws://127.0.0.1:8765/v1`); one that is not ws:// or wss:// is INVALID_OPTIONS.
   */
  static async connect(url: string, options: RemoteClientOptions = {}): Promise<RemoteClient> {
    const client = new RemoteClient(endpointUrl(url, 'a turngym server'), options);
    try {
      await client.open();
    } catch (error) {
      clearInterval(client.sweeper);
      client.state = 'closed';
      client.socket?.terminate();
      throw error;
    }
    return client;
  }

  /** The envs the server offers, with their tools as JSON Schema. */
  async list(): Promise<Reply<'envs'>['envs']> {
    return ((await this.request({ type: 'list' })) as Reply<'envs'>).envs;
  }

  /** Makes an env on the server, wrapped in the standard stack as `make` wraps a local one. */
  async make(env: string, kwargs?: Record<string, unknown>, options?: WrapOptions): Promise<RemoteEnv> {
    return new RemoteEnv(await this.makeSession(env, kwargs), options);
  }

  /** Makes an env on the server and returns its bare session (no wrappers; a pool wraps its own envs). */
  async makeSession(env: string, kwargs?: Record<string, unknown>): Promise<RemoteSession> {
    const made = (await this.request({ type: 'make', env, kwargs })) as Reply<'made'>;
    this.sessions.set(made.session, made.resume_token);
    return new RemoteSession(this, made.session, made.resume_token, specFromWire(made.spec));
  }

  /**
   * Takes over a session made elsewhere (another process, a connection that is gone) with its resume token.
   * The returned env does not know whether an episode is running; it lets the server decide (`midEpisode`).
   */
  async attach(session: string, resumeToken: string, options?: WrapOptions): Promise<RemoteEnv> {
    const attached = (await this.request({ type: 'attach', session, resume_token: resumeToken })) as Reply<'attached'>;
    this.sessions.set(session, resumeToken);
    return new RemoteEnv(new RemoteSession(this, session, resumeToken, specFromWire(attached.spec)), {
      ...options,
      midEpisode: true,
    });
  }

  async request(message: Request): Promise<ServerMessage> {
    if (this.state === 'reconnecting') await this.reconnecting;
    if (this.state === 'closed') {
      const message = `The connection to ${this.url} is closed (${this.closedReason}); connect again.`;
      throw this.lostReason === undefined
        ? new RemoteError('INTERNAL', message)
        : new ConnectionLostError(this.url, message);
    }
    return this.send({ ...message, id: this.nextId++ } as ClientMessage);
  }

  forget(session: string): void {
    this.sessions.delete(session);
  }

  /** Sessions this client holds (made or attached, not yet closed or lost). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** True until the client is closed or its connection is lost for good. */
  get usable(): boolean {
    return this.state !== 'closed';
  }

  /**
   * Gives the connection up now (e.g. its server failed its health checks): the socket is dropped without
   * reconnecting, and every waiting request is rejected with a {@link ConnectionLostError}. The server's
   * sessions are left to its grace period. Idempotent.
   */
  abandon(reason: string): void {
    if (this.state === 'closed') return;
    this.lose(reason);
    this.socket?.terminate();
  }

  /** Closes every session this client holds, then the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'open' && this.sessions.size > 0) {
      const sessions = [...this.sessions.keys()];
      this.sessions.clear();
      await Promise.allSettled(sessions.map((session) => this.request({ type: 'close', session })));
    }
    this.state = 'closed';
    clearInterval(this.sweeper);
    const socket = this.socket;
    this.failAll(new RemoteError('INTERNAL', 'The client was closed before the reply arrived.'));
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(1000);
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 1000).unref();
    });
  }

  // -------------------------------------------------------------------------------------------------------

  private send(message: ClientMessage): Promise<ServerMessage> {
    return new Promise<ServerMessage>((resolve, reject) => {
      const session = SESSION_TYPES.has(message.type) ? (message as { session: string }).session : undefined;
      this.pending.set(message.id, {
        message,
        session,
        deadline: Date.now() + this.options.requestTimeoutMs,
        resolve,
        reject,
      });
      this.socket!.send(JSON.stringify(message));
    });
  }

  private async open(): Promise<void> {
    const socket = new WebSocket(this.url, {
      maxPayload: 256 * 1024 * 1024,
      handshakeTimeout: this.options.connectTimeoutMs,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', (error) =>
        reject(new RemoteError('INTERNAL', `Could not connect to ${this.url}: ${describeError(error)}`)),
      );
      socket.once('unexpected-response', (request, response) => {
        // A turngym server says why in a short text body (503: full or shutting down; 404: wrong path).
        const plain = (response.headers['content-type'] ?? '').startsWith('text/plain');
        let body = '';
        const fail = () => {
          request.destroy();
          const why = plain && body ? `: ${body.slice(0, 512)}` : ' (is it a turngym server? the path is /v1)';
          reject(
            new RemoteError(
              'INTERNAL',
              `Could not connect to ${this.url}: the server answered HTTP ${response.statusCode}${why}`,
            ),
          );
        };
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < 512) body += chunk;
        });
        response.once('end', fail);
        response.once('error', fail);
      });
    });
    this.socket = socket;
    socket.on('message', (data) => this.onMessage(data as Buffer));
    socket.on('error', () => undefined); // 'close' follows.
    socket.on('close', () => this.onClose(socket));
    const welcome = (await this.send({
      type: 'hello',
      id: this.nextId++,
      protocol: PROTOCOL_VERSION,
      role: this.options.role,
      token: this.options.token,
    })) as Reply<'welcome'>;
    this.limits = welcome.limits;
    this.server = welcome.server;
  }

  private onMessage(data: Buffer): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(data.toString()) as ServerMessage;
    } catch {
      return;
    }
    const pending = this.pending.get(message.id as RequestId);
    if (!pending) return; // A reply already matched (e.g. through attach's last_reply).
    this.pending.delete(message.id as RequestId);
    if (message.type === 'error') {
      if (message.code === 'UNKNOWN_SESSION' && pending.session) this.sessions.delete(pending.session);
      pending.reject(new RemoteError(message.code, message.message));
    } else {
      pending.resolve(message);
    }
  }

  private onClose(socket: WebSocket): void {
    if (socket !== this.socket || this.state !== 'open') return;
    if (this.options.reconnectAttempts === 0) {
      this.lose('it dropped, and reconnecting is off');
      return;
    }
    this.state = 'reconnecting';
    this.reconnecting = this.reconnect();
  }

  private async reconnect(): Promise<void> {
    // Replies to requests outside sessions (list, make) cannot be recovered: fail those now.
    for (const [id, pending] of this.pending) {
      if (pending.session !== undefined) continue;
      this.pending.delete(id);
      pending.reject(
        new RemoteError(
          'INTERNAL',
          `The connection to ${this.url} dropped before the reply to ${pending.message.type} arrived; send it again.`,
        ),
      );
    }
    let delay = this.options.reconnectDelayMs;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.options.reconnectAttempts; attempt++) {
      await sleep(delay);
      delay = Math.min(2000, delay * 2);
      if (this.state === 'closed') return;
      try {
        await this.open();
        await Promise.all([...this.sessions].map(([session, token]) => this.reattach(session, token)));
        if (this.isClosed()) {
          // Closed or abandoned while reconnecting: the new connection is not wanted.
          this.socket?.terminate();
          return;
        }
        this.state = 'open';
        return;
      } catch (error) {
        lastError = error;
        this.socket?.terminate();
      }
    }
    this.lose(
      `it dropped and ${this.options.reconnectAttempts} reconnect attempts failed: ${describeError(lastError)}`,
    );
  }

  /** The connection is gone for good: reject everything waiting, once, with a retryable error. */
  private lose(reason: string): void {
    if (this.isClosed()) return;
    this.state = 'closed';
    this.closedReason = reason;
    this.lostReason = reason;
    clearInterval(this.sweeper);
    this.failAll(new ConnectionLostError(this.url, `The connection to ${this.url} is closed (${reason}).`));
    this.options.onLost?.(reason);
  }

  /** Attaches a session on the new connection and settles, waits for, or resends its requests. */
  private async reattach(session: string, token: string): Promise<void> {
    let attached: Reply<'attached'>;
    try {
      attached = (await this.send({
        type: 'attach',
        id: this.nextId++,
        session,
        resume_token: token,
      })) as Reply<'attached'>;
    } catch (error) {
      if (!(error instanceof RemoteError) || error.wireCode !== 'UNKNOWN_SESSION') throw error;
      this.sessions.delete(session);
      for (const [id, pending] of this.pending) {
        if (pending.session !== session) continue;
        this.pending.delete(id);
        pending.reject(
          new RemoteError('UNKNOWN_SESSION', `Session '${session}' was lost with the connection (${error.message})`),
        );
      }
      return;
    }
    const inProgress = new Set(attached.in_progress);
    for (const [id, pending] of this.pending) {
      if (pending.session !== session) continue;
      if (attached.last_reply?.id === id) {
        this.onMessage(Buffer.from(JSON.stringify(attached.last_reply)));
      } else if (!inProgress.has(id)) {
        this.socket!.send(JSON.stringify(pending.message)); // The server never got it.
      }
    }
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private expireRequests(): void {
    const now = Date.now();
    for (const [id, pending] of this.pending) {
      if (pending.deadline > now) continue;
      this.pending.delete(id);
      pending.reject(
        new RemoteError(
          'TIMEOUT',
          `No reply to ${pending.message.type} from ${this.url} within ${this.options.requestTimeoutMs} ms.`,
        ),
      );
    }
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * An env served by a turngym server, behind the ordinary `Env` interface (it passes `checkEnv`): its session in
 * the standard wrappers (`wrap`), so call-order errors are raised locally, and the server's come as RemoteErrors.
 */
export class RemoteEnv extends WrappedEnv<RemoteSession> {
  /** The server's session id. */
  get session(): string {
    return this.bare.session;
  }

  /** The session's resume token: with it, any connection can `attach` this session. */
  get resumeToken(): string {
    return this.bare.resumeToken;
  }

  /**
   * Privileged: the current episode's ground-truth answer. Needs a client connected with the `trainer`
   * role (and the server's token); an agent gets UNAUTHORIZED.
   */
  async fetchGroundTruth(): Promise<string> {
    if (this.inner.closed) throw new EnvClosedError(this.spec.id);
    return this.bare.fetchGroundTruth();
  }
}

/** One session on a server as a bare `Env`: each call is one request (call order is {@link RemoteEnv}'s business). */
export class RemoteSession implements Env {
  constructor(
    private readonly channel: SessionChannel,
    readonly session: string,
    readonly resumeToken: string,
    readonly spec: EnvSpec,
  ) {}

  async reset(options: ResetOptions = {}): Promise<ResetResult> {
    const reply = (await this.channel.request({
      type: 'reset',
      session: this.session,
      seed: options.seed,
      options: options.options,
    })) as Reply<'observation'>;
    return { observation: reply.observation, info: reply.info as ResetResult['info'] };
  }

  async step(action: Action): Promise<StepResult> {
    const reply = (await this.channel.request({
      type: 'step',
      session: this.session,
      action: this.fit(action),
    })) as Reply<'step_result'>;
    return {
      observation: reply.observation,
      reward: reply.reward,
      terminated: reply.terminated,
      truncated: reply.truncated,
      info: reply.info,
    };
  }

  /** Closes the session on the server (a session already gone there, or a closed connection, is no error). */
  async close(): Promise<void> {
    this.channel.forget(this.session);
    try {
      await this.channel.request({ type: 'close', session: this.session });
    } catch (error) {
      // Already gone on the server (expired, lost) or the connection is closed: nothing is left to free.
      if (!(error instanceof RemoteError)) throw error;
    }
  }

  /** Privileged: the current episode's ground-truth answer (trainer role). */
  async fetchGroundTruth(): Promise<string> {
    return ((await this.channel.request({ type: 'ground_truth', session: this.session })) as Reply<'ground_truth'>)
      .answer;
  }

  /**
   * An action larger than the spec's `maxActionChars` is sent cut to one character over the limit, so that
   * the env still answers it (ACTION_TOO_LARGE) and counts the turn, without the message exceeding the
   * server's payload limit.
   */
  private fit(action: Action): unknown {
    const limit = this.spec.maxActionChars;
    if (typeof action === 'string') return action.length > limit ? action.slice(0, limit + 1) : action;
    if (typeof action !== 'object' || action === null) return action;
    let text: string | undefined;
    try {
      text = JSON.stringify(action);
    } catch {
      return 'an action that could not be serialised as JSON';
    }
    return text !== undefined && text.length > limit ? text.slice(0, limit + 1) : action;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
