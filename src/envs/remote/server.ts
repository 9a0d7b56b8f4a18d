/**
 * The env server behind `turngym serve`: every registered env, over the WebSocket protocol of protocol.ts.
 *
 *   const server = await serve({ port: 8765 });   // ws://127.0.0.1:8765/v1, GET /healthz
 *   ...
 *   await server.close();                          // stops accepting, finishes in-flight steps, closes every env
 *
 * Hardening, in the order a request meets it: connections beyond `maxConnections` are refused (HTTP 503); a
 * connection must say `hello` first (with the token when the server has one); binary frames, bad JSON, deep
 * nesting and schema violations are answered with an error and nothing else happens; limits (payload,
 * sessions per connection and per server, requests in flight, unread replies) are enforced before any work;
 * `make` takes from a client only the kwargs the env declares safe for any client (`remoteKwargs`), the rest
 * being the operator's (`kwargs`); env errors are mapped to wire codes; a step that does not answer in time
 * is answered with TIMEOUT and its session retired. Nothing a client sends can stop the server.
 *
 * Backpressure: a connection is served while it has fewer than `maxInFlight` requests in flight and fewer
 * than `maxBufferedBytes` of replies it has not read; otherwise the server stops reading it (messages
 * already read wait, in order) until it is back under half of both. Over four times `maxBufferedBytes` the
 * connection is closed (1008). ws emits one message per event-loop turn (`allowSynchronousEvents: false`),
 * so one large write of many requests cannot keep the other connections waiting.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { upgradeServer } from './upgrade-server.js';
import type { Action, Env } from '../env.js';
import { inputJsonSchema } from '../actions.js';
import { describeError, InvalidKwargsError, TurngymError } from '../../core/errors.js';
import { list, make, remoteKwargs, remoteKwargsSchema, spec as registeredSpec, validateKwargs } from '../registry.js';
import {
  ClientMessage,
  describeIssues,
  PROTOCOL_PATH,
  PROTOCOL_VERSION,
  type ServerMessage,
  specToWire,
  toolsToWire,
  type WireErrorCode,
  type WireLimits,
  type WireSpec,
  wireCodeOf,
} from './protocol.js';
import { isOpenEnvId } from './openenv-protocol.js';
import { OpenEnvClientOptions } from './openenv-client.js';

/** Options of {@link serve}. Every limit has a default; `turngym serve` has a flag for each. */
export interface ServeOptions {
  /** Interface to bind. [default '127.0.0.1'] Anything but loopback needs a `token`. */
  host?: string;
  /** TCP port; 0 picks a free one. [default 8765] */
  port?: number;
  /** Shared secret every client must send in `hello` (and the only way to allow the trainer role); at least 16 characters. */
  token?: string;
  /**
   * Kwargs the operator fixes, per env id, e.g. `{ 'search/corpus-v0': { documents: 'docs.jsonl', questions: 'q.jsonl' } }`.
   * They may name anything (paths, limits); a client can neither see nor override them, and sets only the
   * env's `remoteKwargs` besides. Checked against each env's schema when the server starts.
   */
  kwargs?: Record<string, Record<string, unknown>>;
  /** Connections at once (before and after `hello`); beyond it the upgrade is answered with HTTP 503. [default 256] */
  maxConnections?: number;
  /** Largest message accepted, in bytes; a larger one closes its connection (code 1009). [default 1 MiB] */
  maxPayload?: number;
  /** Sessions one connection may hold. [default 64] */
  maxSessionsPerConnection?: number;
  /** Sessions the whole server may hold. [default 1024] */
  maxSessions?: number;
  /** Requests one connection may have in flight; beyond it the server stops reading that connection. [default 256] */
  maxInFlight?: number;
  /**
   * Bytes of replies a connection may leave unread (`bufferedAmount`); beyond it the server stops reading that
   * connection until it drains to half, and beyond four times it closes the connection (1008). [default 1 MiB]
   */
  maxBufferedBytes?: number;
  /** A session unused this long (ms) is closed. [default 300000, 5 min] */
  idleTimeoutMs?: number;
  /** A reset or step that takes longer (ms) is answered with TIMEOUT and its session closed. [default 60000] */
  stepTimeoutMs?: number;
  /** How long (ms) a dropped connection's sessions wait for `attach`. [default 30000] */
  graceMs?: number;
  /** A connection that has not said `hello` within this many ms is closed. [default 10000] */
  helloTimeoutMs?: number;
  /** Where to log connection and session events (one line each). [default: nowhere] */
  log?: (line: string) => void;
}

/** The defaults of {@link ServeOptions}. */
export const DEFAULT_SERVE_OPTIONS = {
  host: '127.0.0.1',
  port: 8765,
  maxConnections: 256,
  maxPayload: 1024 * 1024,
  maxSessionsPerConnection: 64,
  maxSessions: 1024,
  maxInFlight: 256,
  maxBufferedBytes: 1024 * 1024,
  idleTimeoutMs: 5 * 60_000,
  stepTimeoutMs: 60_000,
  graceMs: 30_000,
  helloTimeoutMs: 10_000,
} as const;

const SERVER_NAME = 'turngym 0.1.0';
const MAX_DEPTH = 64;
const MIN_TOKEN_CHARS = 16;
/** A connection with more unread reply bytes than this many times `maxBufferedBytes` is closed. */
const BUFFERED_HARD_CAP = 4;
/** Close code of a connection cut off for not reading its replies (policy violation). */
const UNREAD_CLOSE_CODE = 1008;

type Role = 'agent' | 'trainer';
type RequestId = string | number;

interface Connection {
  readonly socket: WebSocket;
  readonly openedAt: number;
  role: Role | undefined;
  readonly sessions: Set<Session>;
  /** Requests received and not yet answered (their reply not yet written to the socket). */
  inFlight: number;
  /** `make` requests being served (they count toward the session limits). */
  making: number;
  paused: boolean;
  /** Messages read while the connection could not be served (backpressure), in arrival order. */
  readonly waiting: { data: RawData; isBinary: boolean }[];
  /** A turn of the event loop is booked to serve `waiting`. */
  drainScheduled: boolean;
}

interface PendingOp {
  readonly id: RequestId;
  readonly arrival: Connection;
  readonly startedAt: number;
  /** Set when the op was answered early (with TIMEOUT); its late result is dropped. */
  answered: boolean;
}

interface Session {
  readonly id: string;
  readonly tokenDigest: Buffer;
  readonly env: Env;
  readonly spec: WireSpec;
  connection: Connection | undefined;
  lastUsed: number;
  detachedAt: number;
  readonly pending: Set<PendingOp>;
  /** Settles when every op queued on this session has finished. */
  tail: Promise<unknown>;
  lastReply: ServerMessage | null;
  retired: boolean;
}

/** Starts a server and resolves once it listens. */
export async function serve(options: ServeOptions = {}): Promise<RemoteServer> {
  const server = new RemoteServer(options);
  await server.listen();
  return server;
}

/** A running env server. Create it with {@link serve}. */
export class RemoteServer {
  private readonly options: Required<Omit<ServeOptions, 'token' | 'log'>> & Pick<ServeOptions, 'log'>;
  private readonly tokenDigest: Buffer | undefined;
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Session>();
  private readonly wireSpecs = new Map<string, WireSpec>();
  /** `list` entries per role and env id (an id never changes meaning, nor do the operator's kwargs). */
  private readonly listed = new Map<string, WireEnvEntry>();
  private making = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  constructor(options: ServeOptions = {}) {
    this.options = { ...DEFAULT_SERVE_OPTIONS, kwargs: {}, ...definedOnly(options) };
    checkExposure(this.options.host, options.token);
    for (const key of [
      'maxConnections',
      'maxPayload',
      'maxSessionsPerConnection',
      'maxSessions',
      'maxInFlight',
      'maxBufferedBytes',
      'idleTimeoutMs',
      'stepTimeoutMs',
      'graceMs',
      'helloTimeoutMs',
    ] as const)
      checkPositive(key, this.options[key]);
    // The operator's kwargs: every id registered, every name known, every value valid (the rest come from clients).
    // An OpenEnv server's address is served only when named here (clients cannot make this server connect anywhere).
    for (const [id, fixed] of Object.entries(this.options.kwargs))
      if (isOpenEnvId(id)) validateKwargs(id, OpenEnvClientOptions, fixed);
      else validateKwargs(id, registeredSpec(id).kwargs.partial(), fixed);
    this.tokenDigest = options.token === undefined ? undefined : digest(options.token);
    this.http = createServer((request, response) => this.onHttp(request, response));
    this.wss = upgradeServer(this.options.maxPayload);
    this.http.on('upgrade', (request, socket, head) => this.onUpgrade(request, socket, head));
  }

  /** Binds the port. Called by {@link serve}. */
  async listen(): Promise<void> {
    await listenOn(this.http, this.options.port, this.options.host);
    const { stepTimeoutMs, idleTimeoutMs, graceMs } = this.options;
    this.sweeper = sweepEvery(() => this.sweep(), stepTimeoutMs, idleTimeoutMs, graceMs);
  }

  /** The bound port (useful with `port: 0`). */
  get port(): number {
    return boundPort(this.http, this.options.port);
  }

  /** `ws://HOST:PORT/v1`. */
  get url(): string {
    return `ws://${hostInUrl(this.options.host)}:${this.port}${PROTOCOL_PATH}`;
  }

  /** The limits this server enforces, as sent in `welcome`. */
  get limits(): WireLimits {
    const o = this.options;
    return {
      max_connections: o.maxConnections,
      max_payload_bytes: o.maxPayload,
      max_sessions_per_connection: o.maxSessionsPerConnection,
      max_sessions: o.maxSessions,
      max_in_flight: o.maxInFlight,
      max_buffered_bytes: o.maxBufferedBytes,
      idle_timeout_ms: o.idleTimeoutMs,
      step_timeout_ms: o.stepTimeoutMs,
      grace_ms: o.graceMs,
    };
  }

  /**
   * Counts for monitoring (also served at GET /healthz): connections, sessions, detached sessions, and over
   * every connection the requests in flight, the messages read and waiting to be served, and the bytes of
   * replies not yet read by their clients.
   */
  stats(): {
    connections: number;
    sessions: number;
    detached_sessions: number;
    in_flight: number;
    waiting: number;
    buffered_bytes: number;
  } {
    let detached = 0;
    for (const session of this.sessions.values()) if (!session.connection) detached++;
    let inFlight = 0;
    let waiting = 0;
    let buffered = 0;
    for (const connection of this.connections) {
      inFlight += connection.inFlight;
      waiting += connection.waiting.length;
      buffered += connection.socket.bufferedAmount;
    }
    return {
      connections: this.connections.size,
      sessions: this.sessions.size,
      detached_sessions: detached,
      in_flight: inFlight,
      waiting,
      buffered_bytes: buffered,
    };
  }

  /**
   * Graceful shutdown: stops accepting connections and requests, lets in-flight resets and steps finish
   * (up to the step timeout), closes every env, then closes every connection (code 1001). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------------------
  // HTTP and connections

  private onHttp(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === '/healthz') {
      const body = {
        status: this.closing ? 'shutting_down' : 'ok',
        protocol: PROTOCOL_VERSION,
        server: SERVER_NAME,
        ...this.stats(),
        pid: process.pid,
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      };
      response.writeHead(this.closing ? 503 : 200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        error: `Nothing at ${request.method} ${path}. WebSocket clients connect to ${PROTOCOL_PATH}; health checks GET /healthz.`,
      }),
    );
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (request.url ?? '').split('?')[0];
    const full = this.connections.size >= this.options.maxConnections;
    if (path !== PROTOCOL_PATH || this.closing || full) {
      const status = path !== PROTOCOL_PATH ? '404 Not Found' : '503 Service Unavailable';
      const reason =
        path !== PROTOCOL_PATH
          ? `This server speaks protocol ${PROTOCOL_VERSION} at ${PROTOCOL_PATH}.`
          : this.closing
            ? 'The server is shutting down.'
            : `The server holds ${this.options.maxConnections} connections, its limit: try again later, or use another server.`;
      socket.end(
        `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
      );
      if (full && !this.closing) this.log(`refused a connection: ${this.options.maxConnections} connections open`);
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(socket: WebSocket): void {
    const connection: Connection = {
      socket,
      openedAt: Date.now(),
      role: undefined,
      sessions: new Set(),
      inFlight: 0,
      making: 0,
      paused: false,
      waiting: [],
      drainScheduled: false,
    };
    this.connections.add(connection);
    socket.on('message', (data, isBinary) => this.receive(connection, data, isBinary));
    socket.on('error', () => undefined); // 'close' follows every error; the detach happens there.
    socket.on('close', () => this.onDisconnect(connection));
  }

  private onDisconnect(connection: Connection): void {
    this.connections.delete(connection);
    const now = Date.now();
    for (const session of connection.sessions) {
      session.connection = undefined;
      session.detachedAt = now;
    }
    if (connection.sessions.size > 0)
      this.log(`connection dropped; ${connection.sessions.size} session(s) wait ${this.options.graceMs} ms for attach`);
    connection.sessions.clear();
    connection.waiting.length = 0;
  }

  // -------------------------------------------------------------------------------------------------------
  // Requests

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    this.begin(connection);
    if (isBinary) {
      this.replyError(
        connection,
        null,
        'INVALID_JSON',
        'Binary frames are not accepted: send each message as one JSON text frame.',
      );
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.replyError(
        connection,
        null,
        'INVALID_JSON',
        `The message is not valid JSON (${describeError(error)}). Send one JSON object per text frame.`,
      );
      return;
    }
    // A message shorter than twice the depth limit cannot be nested that deep; skip the walk for those.
    if (text.length > 2 * MAX_DEPTH && tooDeep(value, MAX_DEPTH)) {
      this.replyError(
        connection,
        idOf(value),
        'VALIDATION_ERROR',
        `The message is nested more than ${MAX_DEPTH} levels deep; flatten it.`,
      );
      return;
    }
    const parsed = ClientMessage.safeParse(value);
    if (!parsed.success) {
      this.replyError(connection, idOf(value), 'VALIDATION_ERROR', validationMessage(value, parsed.error.issues));
      return;
    }
    const message = parsed.data;
    if (this.closing) {
      this.replyError(
        connection,
        message.id,
        'CAPACITY_REACHED',
        'The server is shutting down and accepts no new requests; connect to another server.',
      );
      return;
    }
    if (message.type === 'hello') {
      this.onHello(connection, message);
      return;
    }
    if (connection.role === undefined) {
      this.replyError(
        connection,
        message.id,
        'UNAUTHORIZED',
        `Send hello first: {"type": "hello", "id": 1, "protocol": ${PROTOCOL_VERSION}, "role": "agent"}.`,
      );
      return;
    }
    switch (message.type) {
      case 'list':
        this.reply(connection, connection, { type: 'envs', id: message.id, envs: this.listEnvs() });
        return;
      case 'make':
        void this.onMake(connection, message.id, message.env, message.kwargs ?? {});
        return;
      case 'attach':
        this.onAttach(connection, message.id, message.session, message.resume_token);
        return;
    }
    const session = this.sessions.get(message.session);
    if (!session || session.connection !== connection) {
      // One answer whether the id exists elsewhere or not, so that no connection can probe another's sessions.
      this.replyError(
        connection,
        message.id,
        'UNKNOWN_SESSION',
        `No session '${message.session.slice(0, 64)}' on this connection. Sessions end when closed, when idle too long, or when their connection dropped and nobody attached in time; a session of another connection needs attach with its resume_token. Make a new one.`,
      );
      return;
    }
    switch (message.type) {
      case 'reset': {
        const { seed, options } = message;
        this.runOp(session, connection, message.id, async () => {
          const result = await session.env.reset({ seed, options });
          return {
            type: 'observation',
            id: message.id,
            session: session.id,
            observation: result.observation,
            info: result.info,
          };
        });
        return;
      }
      case 'step': {
        const action = message.action as Action;
        this.runOp(session, connection, message.id, async () => {
          const result = await session.env.step(action);
          return {
            type: 'step_result',
            id: message.id,
            session: session.id,
            observation: result.observation,
            reward: result.reward,
            terminated: result.terminated,
            truncated: result.truncated,
            info: result.info,
          };
        });
        return;
      }
      case 'ground_truth':
        if (connection.role !== 'trainer') {
          this.replyError(
            connection,
            message.id,
            'UNAUTHORIZED',
            'Only the trainer role may read ground truth; an agent never can.',
          );
          return;
        }
        this.runOp(session, connection, message.id, async () => {
          try {
            if (!session.env.groundTruth)
              throw new TurngymError('NOT_SUPPORTED', `${session.spec.id} does not expose its ground truth.`);
            return { type: 'ground_truth', id: message.id, session: session.id, answer: session.env.groundTruth() };
          } catch (error) {
            if (TurngymError.is(error)) throw error;
            throw new TurngymError(
              'RESET_NEEDED',
              `No episode in progress on session '${session.id}': reset it before asking for its ground truth.`,
            );
          }
        });
        return;
      case 'close':
        this.retire(session);
        void session.env
          .close()
          .catch((error: unknown) => this.log(`closing ${session.spec.id} failed: ${describeError(error)}`))
          .then(() => this.reply(connection, connection, { type: 'closed', id: message.id, session: session.id }));
        return;
    }
  }

  private onHello(connection: Connection, message: Extract<ClientMessage, { type: 'hello' }>): void {
    if (connection.role !== undefined) {
      this.replyError(connection, message.id, 'VALIDATION_ERROR', 'hello was already sent on this connection.');
      return;
    }
    if (
      this.tokenDigest &&
      !(message.token !== undefined && timingSafeEqual(digest(message.token), this.tokenDigest))
    ) {
      this.replyError(
        connection,
        message.id,
        'UNAUTHORIZED',
        message.token === undefined ? 'This server needs a token: send it in hello.' : 'The token is wrong.',
      );
      connection.socket.close(1008, 'unauthorized');
      return;
    }
    if (message.role === 'trainer' && !this.tokenDigest) {
      this.replyError(
        connection,
        message.id,
        'UNAUTHORIZED',
        'The trainer role reads ground truth and needs a token: start the server with --token and send it in hello, or connect as an agent.',
      );
      return;
    }
    connection.role = message.role;
    this.reply(connection, connection, {
      type: 'welcome',
      id: message.id,
      protocol: PROTOCOL_VERSION,
      server: SERVER_NAME,
      role: message.role,
      limits: this.limits,
    });
  }

  /** The registered envs, each with the kwargs a client may set on this server. */
  private listEnvs(): WireEnvEntry[] {
    return list().map((id) => {
      let entry = this.listed.get(id);
      if (!entry) {
        const registered = registeredSpec(id);
        const settable = remoteKwargsSchema(id, Object.keys(this.options.kwargs[id] ?? {}));
        entry = {
          id,
          description: registered.description,
          tools: toolsToWire(registered.tools),
          kwargs: inputJsonSchema(settable),
        };
        this.listed.set(id, entry);
      }
      return entry;
    });
  }

  private async onMake(
    connection: Connection,
    id: RequestId,
    envId: string,
    kwargs: Record<string, unknown>,
  ): Promise<void> {
    if (connection.sessions.size + connection.making >= this.options.maxSessionsPerConnection) {
      this.replyError(
        connection,
        id,
        'CAPACITY_REACHED',
        `This connection holds ${this.options.maxSessionsPerConnection} sessions, its limit: close one, or open another connection.`,
      );
      return;
    }
    if (this.sessions.size + this.making >= this.options.maxSessions) {
      this.replyError(
        connection,
        id,
        'CAPACITY_REACHED',
        `The server holds ${this.options.maxSessions} sessions, its limit: close one, or use another server.`,
      );
      return;
    }
    const fixed = this.options.kwargs[envId] ?? {};
    let merged: Record<string, unknown>;
    try {
      merged = isOpenEnvId(envId)
        ? openEnvKwargs(envId, kwargs, this.options.kwargs)
        : remoteKwargs(envId, kwargs, fixed);
    } catch (error) {
      this.replyFailure(connection, id, error);
      return;
    }
    connection.making++;
    this.making++;
    let env: Env;
    try {
      env = await make(envId, merged);
    } catch (error) {
      // The client's kwargs passed, so an issue with a fixed kwarg (a missing file, say) is the operator's: the detail is for the log.
      if (error instanceof InvalidKwargsError && error.issues.some((issue) => issue.path.split('.')[0]! in fixed)) {
        this.log(`make ${envId} failed on the operator's kwargs: ${error.message}`);
        this.replyError(
          connection,
          id,
          'INTERNAL',
          `This server's operator set kwargs for '${envId}' that do not work; the server's log says why.`,
        );
        return;
      }
      this.replyFailure(connection, id, error);
      return;
    } finally {
      connection.making--;
      this.making--;
    }
    if (!this.connections.has(connection) || this.closing) {
      // Nobody received a resume token for it, so nobody could ever attach: free it now.
      await env.close().catch(() => undefined);
      this.finish(connection);
      return;
    }
    const resumeToken = randomBytes(24).toString('base64url');
    const session: Session = {
      id: `s-${randomBytes(12).toString('base64url')}`,
      tokenDigest: digest(resumeToken),
      env,
      spec: this.wireSpec(env),
      connection,
      lastUsed: Date.now(),
      detachedAt: 0,
      pending: new Set(),
      tail: Promise.resolve(),
      lastReply: null,
      retired: false,
    };
    this.sessions.set(session.id, session);
    connection.sessions.add(session);
    this.reply(connection, connection, {
      type: 'made',
      id,
      session: session.id,
      spec: session.spec,
      resume_token: resumeToken,
    });
  }

  private onAttach(connection: Connection, id: RequestId, sessionId: string, resumeToken: string): void {
    const session = this.sessions.get(sessionId);
    if (!session || !timingSafeEqual(digest(resumeToken), session.tokenDigest)) {
      // One answer for both cases, so that attach cannot be used to probe which session ids exist.
      this.replyError(
        connection,
        id,
        'UNKNOWN_SESSION',
        `No session '${sessionId.slice(0, 64)}' with that resume token: it was closed, expired, or its grace period ended. Make a new one.`,
      );
      return;
    }
    if (session.connection !== connection) {
      if (connection.sessions.size >= this.options.maxSessionsPerConnection) {
        this.replyError(
          connection,
          id,
          'CAPACITY_REACHED',
          `This connection holds ${this.options.maxSessionsPerConnection} sessions, its limit: attach on another connection.`,
        );
        return;
      }
      session.connection?.sessions.delete(session);
      session.connection = connection;
      connection.sessions.add(session);
    }
    session.lastUsed = Date.now();
    const lastReply = session.lastReply as Extract<
      ServerMessage,
      { type: 'observation' | 'step_result' | 'error' }
    > | null;
    this.reply(connection, connection, {
      type: 'attached',
      id,
      session: session.id,
      spec: session.spec,
      in_progress: [...session.pending].map((op) => op.id),
      last_reply: lastReply,
    });
  }

  /**
   * Runs one op of a session after the ones before it (steps on a session are serialised), and answers on
   * the session's connection as it is when the op ends, which after a reconnect and `attach` is the new one.
   */
  private runOp(session: Session, arrival: Connection, id: RequestId, work: () => Promise<ServerMessage>): void {
    const op: PendingOp = { id, arrival, startedAt: Date.now(), answered: false };
    session.lastUsed = op.startedAt;
    const idle = session.pending.size === 0;
    session.pending.add(op);
    const done = (reply: ServerMessage) => {
      session.pending.delete(op);
      session.lastUsed = Date.now();
      if (op.answered) return;
      session.lastReply = reply;
      this.reply(arrival, session.connection, reply);
    };
    const run = async () => {
      try {
        done(await work());
      } catch (error) {
        done(this.errorReply(id, error));
      }
    };
    // Fast path: nothing queued on this session, so start now (no extra promise hop on the hot path).
    const next = idle ? run() : session.tail.then(run);
    session.tail = next;
  }

  private errorReply(id: RequestId, error: unknown): ServerMessage {
    if (TurngymError.is(error)) return { type: 'error', id, code: wireCodeOf(error.code), message: error.message };
    this.log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return { type: 'error', id, code: 'INTERNAL', message: `The env failed: ${describeError(error)}` };
  }

  // -------------------------------------------------------------------------------------------------------
  // Sending, backpressure

  /** A message was read: serve it now, or keep it (in order) until the connection may be served again. */
  private receive(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return; // closing: nobody would get the reply
    if (connection.waiting.length > 0 || !this.servable(connection)) {
      connection.waiting.push({ data, isBinary });
      this.hold(connection);
      return;
    }
    this.onMessage(connection, data, isBinary);
  }

  /** Under both limits: fewer than max in-flight requests, and no more than max unread reply bytes. */
  private servable(connection: Connection): boolean {
    return (
      connection.inFlight < this.options.maxInFlight &&
      connection.socket.bufferedAmount <= this.options.maxBufferedBytes
    );
  }

  /** Stops reading the connection (ws still emits the messages it had read; `receive` keeps them). */
  private hold(connection: Connection): void {
    if (connection.paused) return;
    connection.paused = true;
    connection.socket.pause();
  }

  private begin(connection: Connection): void {
    connection.inFlight++;
    if (!this.servable(connection)) this.hold(connection);
  }

  private finish(connection: Connection): void {
    connection.inFlight--;
    this.scheduleDrain(connection);
  }

  private scheduleDrain(connection: Connection): void {
    if (!connection.paused || connection.drainScheduled) return;
    connection.drainScheduled = true;
    setImmediate(() => {
      connection.drainScheduled = false;
      this.drain(connection);
    });
  }

  /** Serves the waiting messages while the connection is under its limits; reads it again once under half. */
  private drain(connection: Connection): void {
    if (connection.socket.readyState !== connection.socket.OPEN) {
      connection.waiting.length = 0;
      return;
    }
    while (connection.waiting.length > 0 && this.servable(connection)) {
      const { data, isBinary } = connection.waiting.shift()!;
      this.onMessage(connection, data, isBinary);
    }
    const calm =
      connection.inFlight < this.options.maxInFlight / 2 &&
      connection.socket.bufferedAmount <= this.options.maxBufferedBytes / 2;
    if (connection.paused && connection.waiting.length === 0 && calm) {
      connection.paused = false;
      connection.socket.resume();
    }
  }

  /** Sends a reply to `target` (when it is open) and ends the request on `arrival` once it is written. */
  private reply(arrival: Connection, target: Connection | undefined, message: ServerMessage): void {
    if (!target || target.socket.readyState !== target.socket.OPEN) {
      this.finish(arrival);
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (error) {
      text = JSON.stringify({
        type: 'error',
        id: message.id ?? null,
        code: 'INTERNAL',
        message: `The reply could not be serialised: ${describeError(error)}`,
      });
    }
    target.socket.send(text, () => {
      this.finish(arrival);
      if (target !== arrival) this.scheduleDrain(target);
    });
    const unread = target.socket.bufferedAmount;
    if (unread > BUFFERED_HARD_CAP * this.options.maxBufferedBytes) {
      // It stopped reading: what it has not read stays bounded, and so does what it holds on the server.
      this.log(
        `closing a connection that leaves ${unread} bytes of replies unread (limit ${BUFFERED_HARD_CAP} x ${this.options.maxBufferedBytes})`,
      );
      target.socket.close(UNREAD_CLOSE_CODE, 'replies not read');
      // Read again, so that the client's answer to the close (or its end) is seen; its messages are dropped.
      target.socket.resume();
    } else if (unread > this.options.maxBufferedBytes) {
      this.hold(target);
    }
  }

  private replyError(connection: Connection, id: RequestId | null, code: WireErrorCode, message: string): void {
    this.reply(connection, connection, { type: 'error', id: id as RequestId, code, message });
  }

  /** Answers a request that threw, with the wire code of its turngym error. */
  private replyFailure(connection: Connection, id: RequestId, error: unknown): void {
    this.replyError(connection, id, wireCodeOf(TurngymError.is(error) ? error.code : undefined), describeError(error));
  }

  // -------------------------------------------------------------------------------------------------------
  // Sessions: idle, grace, timeouts, shutdown

  private wireSpec(env: Env): WireSpec {
    let wire = this.wireSpecs.get(env.spec.id);
    if (!wire) {
      wire = specToWire(env.spec);
      this.wireSpecs.set(env.spec.id, wire);
    }
    return wire;
  }

  /** Removes a session from the server (new requests for it get UNKNOWN_SESSION). */
  private retire(session: Session): void {
    session.retired = true;
    this.sessions.delete(session.id);
    session.connection?.sessions.delete(session);
  }

  private closeSession(session: Session, why: string): void {
    this.retire(session);
    this.log(`session ${session.id} (${session.spec.id}) closed: ${why}`);
    void session.env
      .close()
      .catch((error: unknown) => this.log(`closing ${session.spec.id} failed: ${describeError(error)}`));
  }

  private sweep(): void {
    const now = Date.now();
    const { stepTimeoutMs, idleTimeoutMs, graceMs, helloTimeoutMs } = this.options;
    for (const session of this.sessions.values()) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const op of session.pending) oldest = Math.min(oldest, op.startedAt);
      if (now - oldest > stepTimeoutMs) {
        this.timeOut(session);
      } else if (!session.connection) {
        if (now - session.detachedAt > graceMs) this.closeSession(session, `nobody attached within ${graceMs} ms`);
      } else if (session.pending.size === 0 && now - session.lastUsed > idleTimeoutMs) {
        this.closeSession(session, `idle for ${idleTimeoutMs} ms`);
      }
    }
    for (const connection of this.connections) {
      if (connection.role === undefined && now - connection.openedAt > helloTimeoutMs)
        connection.socket.close(1008, 'no hello');
    }
  }

  /** A stuck op: answer everything pending with TIMEOUT and close the session (its env's state is unknown). */
  private timeOut(session: Session): void {
    const message = `The env did not answer within ${this.options.stepTimeoutMs} ms, so session '${session.id}' was closed (its state is unknown). Make a new session.`;
    for (const op of session.pending) {
      op.answered = true;
      this.reply(op.arrival, session.connection, { type: 'error', id: op.id, code: 'TIMEOUT', message });
    }
    session.pending.clear();
    this.closeSession(session, 'step timeout');
  }

  private async shutDown(): Promise<void> {
    this.log('shutting down: no new connections or requests; finishing in-flight steps');
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
      // Upgraded sockets keep the HTTP server's close waiting; they are closed below, so do not wait here.
      setImmediate(resolve);
    });
    const sessions = [...this.sessions.values()];
    await withTimeout(Promise.allSettled(sessions.map((session) => session.tail)), this.options.stepTimeoutMs);
    await Promise.allSettled(
      sessions.map(async (session) => {
        this.retire(session);
        await session.env.close();
      }),
    );
    clearInterval(this.sweeper);
    const sockets = [...this.connections].map((connection) => connection.socket);
    await withTimeout(
      Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === socket.CLOSED) return resolve();
              socket.once('close', () => resolve());
              socket.close(1001, 'server shutting down');
            }),
        ),
      ),
      2000,
    );
    for (const socket of sockets) socket.terminate();
    this.log(`shut down; closed ${sessions.length} session(s)`);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

// ---------------------------------------------------------------------------------------------------------

/** An env as `list` shows it: its tools, and the kwargs this client may set as JSON Schema. */
type WireEnvEntry = { id: string; description: string; tools: WireSpec['tools']; kwargs: Record<string, unknown> };

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

/**
 * Refuses a token too short to be secret, and a host beyond loopback without a token (anyone who could reach
 * it could run envs). Both INVALID_OPTIONS errors say what to do.
 */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_CHARS) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `The token must have at least ${MIN_TOKEN_CHARS} characters; use a random one (e.g. \`openssl rand -hex 24\`).`,
    );
  }
  if (!isLoopback(host) && token === undefined) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `Refusing to listen on ${host} without a token: anyone who can reach it could run envs. Pass a token (--token), or bind to 127.0.0.1.`,
    );
  }
}

/** A limit must be a positive integer (INVALID_OPTIONS naming it otherwise). */
export function checkPositive(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new TurngymError('INVALID_OPTIONS', `${name} must be a positive integer, got ${value}.`);
}

/** Runs `sweep` (unref'd) often enough for the shortest of the timeouts it enforces: a quarter of it, 10 ms to 1 s. */
export function sweepEvery(sweep: () => void, ...timeoutsMs: number[]): NodeJS.Timeout {
  const timer = setInterval(sweep, Math.max(10, Math.min(1000, Math.min(...timeoutsMs) / 4)));
  timer.unref();
  return timer;
}

/** The port an HTTP server is bound to (`fallback` before it listens). */
export function boundPort(http: HttpServer, fallback: number): number {
  const address = http.address();
  return typeof address === 'object' && address ? address.port : fallback;
}

/** A host as written in a URL (an IPv6 address in brackets). */
export function hostInUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The kwargs of an OpenEnv server's session made for a client: only an address the operator named (with
 * `--kwargs 'openenv+http://HOST:PORT={}'`), with the operator's kwargs, none of the client's.
 */
function openEnvKwargs(
  envId: string,
  kwargs: Record<string, unknown>,
  operator: Record<string, Record<string, unknown>>,
): Record<string, unknown> {
  const fixed = operator[envId];
  if (fixed === undefined)
    throw new TurngymError(
      'UNKNOWN_ENV',
      `This server does not serve '${envId.slice(0, 200)}': it serves only the OpenEnv servers its operator names (turngym serve --kwargs 'openenv+http://HOST:PORT={}').`,
    );
  if (Object.keys(kwargs).length > 0)
    throw new InvalidKwargsError(envId, [{ path: '', message: 'a remote client may set none of its arguments' }]);
  return fixed;
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1';
}

/** A fixed-length digest, so that tokens of any length compare in constant time. */
export function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** True when `value` holds objects or arrays nested `limit` levels deep or more (walked without recursion). */
export function tooDeep(value: unknown, limit: number): boolean {
  // Iterative, so that a hostile nesting depth cannot overflow the stack here.
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Binds an HTTP server to `host`:`port`. What the user can fix (the port is taken or privileged, the host is
 * not this machine's) is an INVALID_OPTIONS error saying what to change; anything else is rejected as it came.
 */
export async function listenOn(http: HttpServer, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => reject(listenProblem(error, host, port) ?? error);
    http.once('error', fail);
    http.listen(port, host, () => {
      http.off('error', fail);
      resolve();
    });
  });
}

function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): TurngymError | undefined {
  const where = `Cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new TurngymError(
        'INVALID_OPTIONS',
        `${where}: the port is in use (another server?). Stop what holds it, or choose another port (--port; 0 takes any free one).`,
      );
    case 'EACCES':
      return new TurngymError(
        'INVALID_OPTIONS',
        `${where}: permission denied (ports below 1024 need privileges). Choose a port from 1024 up (--port).`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TurngymError(
        'INVALID_OPTIONS',
        `${where}: ${host} is not an address of this machine. Bind to one of its addresses (--host), e.g. 127.0.0.1, or 0.0.0.0 for all.`,
      );
    default:
      return undefined;
  }
}

function idOf(value: unknown): RequestId | null {
  const id = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).id : undefined;
  if (typeof id === 'string' && id.length <= 128) return id;
  if (typeof id === 'number' && Number.isInteger(id)) return id;
  return null;
}

const TYPES = ClientMessage.options.map((option) => option.shape.type.value);

function validationMessage(value: unknown, issues: readonly { path: PropertyKey[]; message: string }[]): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `A message must be a JSON object with a "type" (${TYPES.join(', ')}) and an "id".`;
  }
  const type = (value as Record<string, unknown>).type;
  if (typeof type !== 'string' || !TYPES.includes(type as never)) {
    return `Unknown message type ${JSON.stringify(type)?.slice(0, 64) ?? 'undefined'}; expected one of ${TYPES.join(', ')}.`;
  }
  if (type === 'hello' && (value as Record<string, unknown>).protocol !== PROTOCOL_VERSION) {
    return `This server speaks protocol ${PROTOCOL_VERSION}; hello asked for ${JSON.stringify((value as Record<string, unknown>).protocol)?.slice(0, 32)}.`;
  }
  return `Invalid ${type} message: ${describeIssues(issues, 5)}.`;
}

/** `promise`'s value, or undefined once `ms` have passed. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
