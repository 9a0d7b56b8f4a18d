/**
 * One registered env behind OpenEnv's server protocol (`turngym serve --openenv ENV_ID`), so that Python
 * trainers that speak OpenEnv (its `EnvClient`, TRL, SkyRL) play turngym's envs. The wire format and how an
 * env maps onto it: openenv-protocol.ts and docs/openenv.md.
 *
 *   const server = await serveOpenEnv({ env: 'puzzle/guess-number-v0' });  // http://127.0.0.1:8765, ws://127.0.0.1:8765/ws
 *   ...
 *   await server.close();   // stops accepting, lets running steps finish, closes every env
 *
 * It follows OpenEnv's `HTTPEnvServer`: one env instance per WebSocket connection (a session), made when the
 * connection opens and closed with it; at most `maxSessions` at once (OpenEnv's `max_concurrent_envs`; a
 * connection beyond it gets CAPACITY_REACHED and is closed); a session idle for `sessionTimeoutMs` is closed
 * (OpenEnv's `session_timeout`). The HTTP reset and step make an env for the request and close it after, as
 * OpenEnv's do; a step has no episode there, so POST /step is answered 409 saying to use `/ws`.
 *
 * Hardening, as `turngym serve`'s (server.ts): loopback only unless a token is set (then every request
 * carries `Authorization: Bearer TOKEN`); messages larger than `maxPayload` close their connection (1009),
 * HTTP bodies larger are answered 413; bad JSON, deep nesting and unknown fields are answered with an error
 * and nothing else happens; a session's messages are served one at a time, and one that sends more than
 * `maxQueued` ahead is not read until it catches up, one that leaves `maxBufferedBytes` of replies unread is
 * neither read nor served until it reads them (and closed, 1008, at four times that); a reset or step that does not answer within
 * `stepTimeoutMs` is answered with EXECUTION_ERROR and its session closed; the env's kwargs are the
 * operator's alone (a client sets only reset options); no ground truth is ever sent.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { describeError, TurngymError } from '../../core/errors.js';
import type { Env, EnvSpec } from '../env.js';
import { make, spec as registeredSpec, validateKwargs } from '../registry.js';
import {
  actionOf,
  issuesOf,
  OPENENV_MESSAGE_TYPES,
  OPENENV_WS_PATH,
  OpenEnvClientMessage,
  type OpenEnvErrorCode,
  type OpenEnvIssue,
  type OpenEnvResult,
  type OpenEnvState,
  ResetData,
  resetResult,
  schemaOf,
  stepResult,
  callToolResult,
  toolsList,
} from './openenv-protocol.js';
import {
  boundPort,
  checkExposure,
  checkPositive,
  DEFAULT_SERVE_OPTIONS,
  digest,
  hostInUrl,
  listenOn,
  type ServeOptions,
  sweepEvery,
  tooDeep,
  withTimeout,
} from './server.js';
import { upgradeServer } from './upgrade-server.js';

/**
 * Options of {@link serveOpenEnv}. `host`, `port`, `maxPayload` (also the largest HTTP body), `stepTimeoutMs`
 * (answered with EXECUTION_ERROR here) and `log` are `turngym serve`'s, with its defaults.
 */
export interface OpenEnvServeOptions extends Pick<
  ServeOptions,
  'host' | 'port' | 'maxPayload' | 'stepTimeoutMs' | 'log'
> {
  /** The registered env id this server serves (OpenEnv serves one env per server). */
  env: string;
  /** The env's kwargs, fixed by the operator; no client can set or see them. */
  kwargs?: Record<string, unknown>;
  /** When set, every HTTP request and WebSocket upgrade must carry `Authorization: Bearer TOKEN`; 16 characters at least. */
  token?: string;
  /** Sessions (WebSocket connections, each with its own env) at once, and envs made for HTTP requests. [default 64] */
  maxSessions?: number;
  /** Messages a session may send ahead of their replies before the server stops reading it. [default 64] */
  maxQueued?: number;
  /**
   * Bytes of replies a session may leave unread; beyond it the server stops serving and reading it until they
   * are read, and beyond four times it closes it (1008). [default 1 MiB, as `turngym serve`]
   */
  maxBufferedBytes?: number;
  /** A session with no message for this long (ms) is closed. [default 300000, 5 min] */
  sessionTimeoutMs?: number;
}

/** The defaults of {@link OpenEnvServeOptions}. */
export const DEFAULT_OPENENV_OPTIONS = {
  host: DEFAULT_SERVE_OPTIONS.host,
  port: DEFAULT_SERVE_OPTIONS.port,
  maxSessions: 64,
  maxPayload: DEFAULT_SERVE_OPTIONS.maxPayload,
  maxQueued: 64,
  maxBufferedBytes: DEFAULT_SERVE_OPTIONS.maxBufferedBytes,
  sessionTimeoutMs: DEFAULT_SERVE_OPTIONS.idleTimeoutMs,
  stepTimeoutMs: DEFAULT_SERVE_OPTIONS.stepTimeoutMs,
} as const;

const MAX_DEPTH = 64;
/** A session with more unread reply bytes than this many times `maxBufferedBytes` is closed, with this code. */
const UNREAD_CLOSE_FACTOR = 4;
const UNREAD_CLOSE_CODE = 1008;
/** How often a session waiting for its client to read is looked at again (ms). */
const DRAIN_POLL_MS = 20;
const VERSION = '0.1.0';

interface Session {
  readonly id: string;
  readonly socket: WebSocket;
  env: Env | undefined;
  episodeId: string | null;
  /** The current episode's horizon (its reset's `max_turns`). */
  maxTurns: number;
  stepCount: number;
  done: boolean;
  lastUsed: number;
  /** When the message being served began; 0 when none is. */
  busySince: number;
  readonly queue: { data: RawData; isBinary: boolean }[];
  /** Set while the session waits for its client to read its replies. */
  drainTimer: NodeJS.Timeout | undefined;
  closed: boolean;
  /** Settles once the session's env is closed (set when it ends). */
  closing: Promise<void>;
}

/** Starts a server and resolves once it listens. */
export async function serveOpenEnv(options: OpenEnvServeOptions): Promise<OpenEnvServer> {
  const server = new OpenEnvServer(options);
  await server.listen();
  return server;
}

/** A running OpenEnv endpoint for one env. Create it with {@link serveOpenEnv}. */
export class OpenEnvServer {
  private readonly options: Required<Omit<OpenEnvServeOptions, 'token' | 'log'>> & Pick<OpenEnvServeOptions, 'log'>;
  private readonly tokenDigest: Buffer | undefined;
  private readonly spec: EnvSpec;
  private readonly schema: ReturnType<typeof schemaOf>;
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  /** Envs made for HTTP requests, being used now. */
  private httpEnvs = 0;
  /** Makes, resets and steps that outlived the step timeout and still run: their envs still count. */
  private late = 0;
  /** HTTP requests being answered (shutdown waits for them). */
  private readonly httpWork = new Set<Promise<void>>();
  /** WebSocket connections open, sessions and those being told the server is full. */
  private connections = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: OpenEnvServeOptions) {
    this.options = {
      ...DEFAULT_OPENENV_OPTIONS,
      kwargs: {},
      ...(Object.fromEntries(
        Object.entries(options).filter(([, value]) => value !== undefined),
      ) as OpenEnvServeOptions),
    };
    const { token } = options;
    checkExposure(this.options.host, token);
    for (const key of [
      'maxSessions',
      'maxPayload',
      'maxQueued',
      'maxBufferedBytes',
      'sessionTimeoutMs',
      'stepTimeoutMs',
    ] as const)
      checkPositive(key, this.options[key]);
    const registered = registeredSpec(this.options.env);
    validateKwargs(this.options.env, registered.kwargs, this.options.kwargs);
    const { kwargs: _schema, remoteKwargs: _remote, ...spec } = registered;
    this.spec = spec;
    this.schema = schemaOf(spec.tools);
    this.tokenDigest = token === undefined ? undefined : digest(token);
    this.http = createServer((request, response) => {
      const work = this.onHttp(request, response).catch((error: unknown) => {
        this.log(
          `internal error answering HTTP: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        if (response.headersSent) response.destroy();
        else {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ detail: 'Internal error; the server log says more.' }));
        }
      });
      this.httpWork.add(work);
      void work.finally(() => this.httpWork.delete(work));
    });
    this.wss = upgradeServer(this.options.maxPayload);
    this.http.on('upgrade', (request, socket, head) => this.onUpgrade(request, socket, head));
  }

  /** Binds the port. Called by {@link serveOpenEnv}. */
  async listen(): Promise<void> {
    await listenOn(this.http, this.options.port, this.options.host);
    this.sweeper = sweepEvery(() => this.sweep(), this.options.stepTimeoutMs, this.options.sessionTimeoutMs);
  }

  /** The bound port (useful with `port: 0`). */
  get port(): number {
    return boundPort(this.http, this.options.port);
  }

  /** `http://HOST:PORT`: OpenEnv's base URL (its client turns it into ws://HOST:PORT/ws). */
  get url(): string {
    return `http://${hostInUrl(this.options.host)}:${this.port}`;
  }

  /** Sessions open now. */
  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Bytes of replies written and not yet read by their clients, over every session (for monitoring and tests). */
  get unreadBytes(): number {
    let total = 0;
    for (const session of this.sessions) total += session.socket.bufferedAmount;
    return total;
  }

  /** Stops accepting, lets running resets and steps finish (up to the step timeout), closes every env and connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------------------
  // HTTP

  private async onHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      if (response.headersSent) return;
      // A body too large was not read to its end: answer, then drop the connection rather than read the rest.
      const drop = status === 413;
      response.writeHead(status, { 'content-type': 'application/json', ...(drop ? { connection: 'close' } : {}) });
      response.end(JSON.stringify(body), () => {
        if (drop) request.destroy();
      });
    };
    const path = (request.url ?? '').split('?')[0];
    const routes: Record<string, string> = {
      '/health': 'GET',
      '/metadata': 'GET',
      '/schema': 'GET',
      '/state': 'GET',
      '/reset': 'POST',
      '/step': 'POST',
    };
    if (!this.authorized(request)) {
      request.resume();
      return send(401, { detail: 'This server needs its token: send the header Authorization: Bearer TOKEN.' });
    }
    const method = routes[path ?? ''];
    if (method === undefined) {
      request.resume();
      return send(404, { detail: 'Not Found' });
    }
    if (request.method !== method) {
      request.resume();
      return send(405, { detail: 'Method Not Allowed' });
    }
    if (this.closing) {
      request.resume();
      return send(503, { detail: 'The server is shutting down.' });
    }
    switch (path) {
      case '/health':
        return send(200, { status: 'healthy' });
      case '/metadata':
        return send(200, {
          name: this.spec.id,
          description: this.spec.description,
          readme_content: null,
          version: VERSION,
          author: 'turngym',
          documentation_url: null,
        });
      case '/schema':
        return send(200, this.schema);
      case '/state':
        return send(200, {
          episode_id: null,
          step_count: 0,
          env_id: this.spec.id,
          done: false,
          max_turns: this.spec.maxTurns,
        } satisfies OpenEnvState);
    }
    const body = await this.readBody(request);
    if ('status' in body) return send(body.status, { detail: body.detail });
    if (path === '/step') {
      const action = typeof body.value.action === 'object' && body.value.action !== null ? body.value.action : null;
      if (action === null)
        return send(422, { detail: [{ type: 'missing', loc: ['body', 'action'], msg: 'Field required' }] });
      return send(409, {
        detail:
          "POST /step has no episode to act in: OpenEnv's HTTP routes make an env for each request, and a turngym episode needs the reset before it. Play episodes over the WebSocket session at /ws (OpenEnv's EnvClient does).",
      });
    }
    // POST /reset: an env for this request alone, as OpenEnv's.
    const parsed = this.resetArguments(body.value);
    if (Array.isArray(parsed)) return send(422, { detail: parsed.map(atBody) });
    if (this.used() >= this.options.maxSessions) return send(503, { detail: this.capacityMessage() });
    this.httpEnvs++;
    let env: Env | undefined;
    try {
      env = await this.within(this.makeEnv());
      const { seed, options } = parsed;
      const result = await this.within(env.reset({ seed, options }));
      send(200, resetResult(result.observation, result.info));
    } catch (error) {
      const { code, message } = this.failure(error);
      send(code === 'VALIDATION_ERROR' ? 422 : 500, { detail: message });
    } finally {
      this.httpEnvs--;
      // After a late reset, close() waits for it (the wrappers serialise calls): the env is freed when it ends.
      void env?.close().catch(() => undefined);
    }
  }

  private async readBody(
    request: IncomingMessage,
  ): Promise<{ value: Record<string, unknown> } | { status: number; detail: unknown }> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.options.maxPayload) {
          request.pause();
          return { status: 413, detail: `The body is larger than ${this.options.maxPayload} bytes.` };
        }
        chunks.push(chunk);
      }
    } catch {
      // The client cut the connection mid-body: nobody will read the answer.
      return { status: 400, detail: 'The request body was cut off.' };
    }
    const text = Buffer.concat(chunks).toString();
    if (text.trim() === '') return { value: {} };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return {
        status: 422,
        detail: [{ type: 'json_invalid', loc: ['body'], msg: `JSON decode error: ${describeError(error)}` }],
      };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return {
        status: 422,
        detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be an object' }],
      };
    if (text.length > 2 * MAX_DEPTH && tooDeep(value, MAX_DEPTH))
      return {
        status: 422,
        detail: [{ type: 'too_deep', loc: ['body'], msg: `nested more than ${MAX_DEPTH} levels` }],
      };
    return { value: value as Record<string, unknown> };
  }

  private authorized(request: IncomingMessage): boolean {
    if (this.tokenDigest === undefined) return true;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    return match !== null && timingSafeEqual(digest(match[1]!), this.tokenDigest);
  }

  // -------------------------------------------------------------------------------------------------------
  // WebSocket sessions

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (request.url ?? '').split('?')[0];
    const refusal =
      path !== OPENENV_WS_PATH
        ? ['404 Not Found', `OpenEnv sessions are at ${OPENENV_WS_PATH}.`]
        : !this.authorized(request)
          ? ['401 Unauthorized', 'This server needs its token: send the header Authorization: Bearer TOKEN.']
          : this.closing
            ? ['503 Service Unavailable', 'The server is shutting down.']
            : // Beyond twice the limit nothing is accepted even to be told so (OpenEnv answers CAPACITY_REACHED inside the session).
              this.connections >= 2 * this.options.maxSessions
              ? ['503 Service Unavailable', this.capacityMessage()]
              : undefined;
    if (refusal) {
      const [status, reason] = refusal as [string, string];
      socket.end(
        `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
      );
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => void this.onConnection(ws));
  }

  private async onConnection(socket: WebSocket): Promise<void> {
    const session: Session = {
      id: randomUUID(),
      socket,
      env: undefined,
      episodeId: null,
      maxTurns: this.spec.maxTurns,
      stepCount: 0,
      done: false,
      lastUsed: Date.now(),
      busySince: 0,
      queue: [],
      drainTimer: undefined,
      closed: false,
      closing: Promise.resolve(),
    };
    this.connections++;
    socket.on('error', () => undefined); // 'close' follows every error.
    socket.on('close', () => {
      this.connections--;
      void this.endSession(session, 'connection closed');
    });
    if (this.used() >= this.options.maxSessions) {
      this.sendError(session, 'CAPACITY_REACHED', this.capacityMessage(), {
        active_sessions: this.sessions.size,
        max_sessions: this.options.maxSessions,
      });
      socket.close(1000);
      return;
    }
    this.sessions.add(session);
    socket.on('message', (data, isBinary) => {
      if (session.closed) return;
      session.queue.push({ data, isBinary });
      if (session.queue.length >= this.options.maxQueued) socket.pause();
      this.pump(session);
    });
    // Messages that arrive while the env is made wait in the queue (busySince marks the session busy).
    session.busySince = Date.now();
    try {
      session.env = await this.within(this.makeEnv(), (late) => void late.close().catch(() => undefined));
    } catch (error) {
      this.sendError(session, 'FACTORY_ERROR', `Could not make ${this.spec.id}: ${this.failure(error).message}`, {
        factory_name: this.spec.id,
      });
      socket.close(1000);
      void this.endSession(session, 'factory error');
      return;
    }
    session.busySince = 0;
    if (session.closed) {
      void session.env.close().catch(() => undefined);
      return;
    }
    this.log(`session ${session.id} opened (${this.sessions.size} open)`);
    this.pump(session);
  }

  /** Serves a session's queued messages one at a time, in order. */
  private pump(session: Session): void {
    if (session.busySince !== 0 || session.closed || session.queue.length === 0) return;
    // A client that does not read its replies is not served (nor read) until it has read them.
    const unread = session.socket.bufferedAmount;
    if (unread > UNREAD_CLOSE_FACTOR * this.options.maxBufferedBytes) {
      session.socket.close(UNREAD_CLOSE_CODE, 'replies not read');
      void this.endSession(session, `${unread} bytes of replies not read`);
      return;
    }
    if (unread > this.options.maxBufferedBytes) {
      session.socket.pause();
      if (!session.drainTimer)
        session.drainTimer = setTimeout(() => {
          session.drainTimer = undefined;
          this.pump(session);
        }, DRAIN_POLL_MS);
      return;
    }
    const next = session.queue.shift()!;
    if (session.queue.length < this.options.maxQueued / 2 && session.socket.isPaused) session.socket.resume();
    session.busySince = Date.now();
    session.lastUsed = session.busySince;
    void this.serveMessage(session, next.data, next.isBinary)
      .catch((error: unknown) => {
        this.log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        this.sendError(session, 'EXECUTION_ERROR', 'Internal error; the server log says more.');
      })
      .finally(() => {
        session.busySince = 0;
        session.lastUsed = Date.now();
        this.pump(session);
      });
  }

  private async serveMessage(session: Session, data: RawData, isBinary: boolean): Promise<void> {
    if (isBinary)
      return this.sendError(session, 'INVALID_JSON', 'Binary frames are not accepted: send JSON text frames.');
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return this.sendError(session, 'INVALID_JSON', `Invalid JSON: ${describeError(error)}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return this.sendError(session, 'VALIDATION_ERROR', 'A message is a JSON object with a "type".');
    if (text.length > 2 * MAX_DEPTH && tooDeep(value, MAX_DEPTH))
      return this.sendError(session, 'VALIDATION_ERROR', `The message is nested more than ${MAX_DEPTH} levels deep.`);
    const type = (value as Record<string, unknown>).type;
    if (typeof type !== 'string' || !(OPENENV_MESSAGE_TYPES as readonly string[]).includes(type)) {
      return this.sendError(
        session,
        'UNKNOWN_TYPE',
        `Unknown message type: ${JSON.stringify(type ?? '')?.slice(0, 64)} (this server reads ${OPENENV_MESSAGE_TYPES.join(', ')})`,
      );
    }
    const parsed = OpenEnvClientMessage.safeParse(value);
    if (!parsed.success)
      return this.sendError(session, 'VALIDATION_ERROR', 'Invalid message', { errors: issuesOf(parsed.error.issues) });
    const message = parsed.data;
    const env = session.env!;
    switch (message.type) {
      case 'close':
        session.socket.close(1000);
        void this.endSession(session, 'closed by the client');
        return;
      case 'state':
        return this.send(session, { type: 'state', data: this.stateOf(session) });
      case 'reset': {
        const resetArguments = this.resetArguments(message.data);
        if (Array.isArray(resetArguments))
          return this.sendError(session, 'VALIDATION_ERROR', 'Invalid reset', { errors: resetArguments });
        const { seed, options, episodeId } = resetArguments;
        return this.answer(session, async () => {
          const result = await env.reset({ seed, options });
          session.episodeId = episodeId ?? randomUUID();
          session.maxTurns = typeof result.info.max_turns === 'number' ? result.info.max_turns : this.spec.maxTurns;
          session.stepCount = 0;
          session.done = false;
          return resetResult(result.observation, result.info);
        });
      }
      case 'step': {
        const action = actionOf(message.data);
        if (Array.isArray(action))
          return this.sendError(session, 'VALIDATION_ERROR', 'Invalid action', { errors: action });
        if (action === 'list_tools')
          return this.send(session, {
            type: 'observation',
            data: { observation: { tools: toolsList(this.spec.tools) }, reward: null, done: false },
          });
        const called = message.data.type === 'call_tool' && typeof action === 'object' ? action.tool : undefined;
        return this.answer(session, async () => {
          const result = await env.step(action);
          session.stepCount++;
          session.done = result.terminated || result.truncated;
          return called !== undefined ? callToolResult(result, called) : stepResult(result);
        });
      }
    }
  }

  /** Runs a reset or step within the step timeout, and answers with its result or its error. */
  private async answer(session: Session, work: () => Promise<OpenEnvResult>): Promise<void> {
    let result: OpenEnvResult;
    try {
      result = await this.within(work());
    } catch (error) {
      if (error instanceof DeadlineError) {
        this.sendError(
          session,
          'EXECUTION_ERROR',
          `The env did not answer within ${this.options.stepTimeoutMs} ms, so this session was closed (its state is unknown). Open a new one.`,
        );
        session.socket.close(1011);
        void this.endSession(session, 'step timeout');
        return;
      }
      const { code, message } = this.failure(error);
      return this.sendError(session, code, message);
    }
    this.send(session, { type: 'observation', data: result });
  }

  private resetArguments(
    data: Record<string, unknown>,
  ): { seed?: number; episodeId?: string; options?: Record<string, unknown> } | OpenEnvIssue[] {
    const { seed, episode_id, ...rest } = data;
    const parsed = ResetData.safeParse({ seed: seed ?? undefined, episode_id: episode_id ?? undefined });
    if (!parsed.success) return issuesOf(parsed.error.issues);
    if (tooDeep(rest, MAX_DEPTH)) return [{ type: 'too_deep', loc: [], msg: 'nested too deep' }];
    return {
      seed: parsed.data.seed,
      episodeId: parsed.data.episode_id,
      options: Object.keys(rest).length > 0 ? rest : undefined,
    };
  }

  private stateOf(session: Session): OpenEnvState {
    return {
      episode_id: session.episodeId,
      step_count: session.stepCount,
      env_id: this.spec.id,
      done: session.done,
      max_turns: session.maxTurns,
    };
  }

  private makeEnv(): Promise<Env> {
    return make(this.options.env, this.options.kwargs);
  }

  /** An env's error as OpenEnv's code and a message a client may read (an unexpected one is logged, not sent). */
  private failure(error: unknown): { code: OpenEnvErrorCode; message: string } {
    if (error instanceof DeadlineError)
      return { code: 'EXECUTION_ERROR', message: `The env did not answer within ${this.options.stepTimeoutMs} ms.` };
    if (TurngymError.is(error)) {
      const invalid = ['INVALID_OPTIONS', 'INVALID_KWARGS', 'NOT_SUPPORTED'].includes(error.code);
      return { code: invalid ? 'VALIDATION_ERROR' : 'EXECUTION_ERROR', message: error.message };
    }
    this.log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return { code: 'EXECUTION_ERROR', message: `The env failed: ${describeError(error).slice(0, 500)}` };
  }

  private capacityMessage(): string {
    return `The server holds ${this.options.maxSessions} sessions, its limit (max_concurrent_envs): close one, or try again later.`;
  }

  private send(session: Session, message: { type: string; data: unknown }): void {
    if (session.socket.readyState !== session.socket.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (error) {
      // An env's result JSON cannot hold (a BigInt, a cycle): the env's bug, answered as such.
      this.log(`a reply could not be serialised: ${describeError(error)}`);
      text = JSON.stringify({
        type: 'error',
        data: { code: 'EXECUTION_ERROR', message: 'The env answered with something JSON cannot hold.' },
      });
    }
    session.socket.send(text);
  }

  private sendError(
    session: Session,
    code: OpenEnvErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ): void {
    this.send(session, { type: 'error', data: { message, code, ...extra } });
  }

  /** Ends a session and closes its env; resolves once the env is closed (after a running step ends). */
  private endSession(session: Session, why: string): Promise<void> {
    if (session.closed) return session.closing;
    session.closed = true;
    session.queue.length = 0;
    clearTimeout(session.drainTimer);
    // A paused socket would not read the client's half of the close handshake (what it sends now is dropped).
    if (session.socket.isPaused) session.socket.resume();
    if (this.sessions.delete(session)) this.log(`session ${session.id} ended: ${why}`);
    session.closing =
      session.env
        ?.close()
        .catch((error: unknown) => this.log(`closing ${this.spec.id} failed: ${describeError(error)}`)) ??
      Promise.resolve();
    return session.closing;
  }

  /** Sessions, HTTP requests' envs and late work: what counts against `maxSessions`. */
  private used(): number {
    return this.sessions.size + this.httpEnvs + this.late;
  }

  /**
   * `work`, or a DeadlineError after the step timeout. Work that outlives it keeps counting against
   * `maxSessions` until it ends (a stuck env holds its resources), and what it makes then goes to `onLate`.
   */
  private async within<T>(work: Promise<T>, onLate?: (value: T) => void): Promise<T> {
    try {
      return await withDeadline(work, this.options.stepTimeoutMs);
    } catch (error) {
      if (error instanceof DeadlineError) {
        this.late++;
        void work.then(onLate, () => undefined).finally(() => this.late--);
      }
      throw error;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const session of this.sessions) {
      if (session.busySince === 0 && now - session.lastUsed > this.options.sessionTimeoutMs) {
        this.sendError(
          session,
          'SESSION_ERROR',
          `The session was idle for ${this.options.sessionTimeoutMs} ms and is closed; open a new one.`,
        );
        session.socket.close(1000);
        void this.endSession(session, 'idle');
      }
    }
  }

  private async shutDown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
      setImmediate(resolve);
    });
    clearInterval(this.sweeper);
    const sessions = [...this.sessions];
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = () => (sessions.every((session) => session.busySince === 0) ? resolve() : setTimeout(check, 10));
        check();
      }),
      this.options.stepTimeoutMs,
    );
    for (const session of sessions) session.socket.close(1001, 'server shutting down');
    await withTimeout(
      Promise.all([...sessions.map((session) => this.endSession(session, 'server shutting down')), ...this.httpWork]),
      this.options.stepTimeoutMs,
    );
    await withTimeout(
      Promise.all(
        sessions.map(
          (session) =>
            new Promise<void>((resolve) => {
              if (session.socket.readyState === session.socket.CLOSED) return resolve();
              session.socket.once('close', () => resolve());
            }),
        ),
      ),
      2000,
    );
    for (const session of sessions) session.socket.terminate();
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

class DeadlineError extends Error {}

/** `promise`, or a DeadlineError after `ms` (the work itself is not stopped: its session is closed instead). */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function atBody(issue: OpenEnvIssue): OpenEnvIssue {
  return { ...issue, loc: ['body', ...issue.loc] };
}
