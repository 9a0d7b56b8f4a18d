/**
 * Any OpenEnv server as a turngym env: `make('openenv+http://HOST:PORT')` (or `connectOpenEnv`), usable by
 * `run`, `eval` and `train` like a registered env. The wire format: openenv-protocol.ts and docs/openenv.md.
 *
 * The env is one OpenEnv session (a WebSocket at `/ws`, one env instance on the server), opened when it is
 * made and closed with it. Its tools come from the server's `GET /schema`: a turngym server's action schema
 * lists each tool with its argument schema; an MCP env's (`CallToolAction`) has its tools listed by the
 * session (`{"type": "list_tools"}`) and called with `call_tool`; any other server's action (a pydantic model
 * such as `EchoAction {message}`) becomes one tool named after it (`echo(message)`), whose arguments are the
 * action's fields. Actions are checked against those schemas here, so an agent's mistake (an unknown tool, a missing
 * argument, text that does not parse) is an error observation that takes a turn, as with every turngym env;
 * so is an action the server refuses (VALIDATION_ERROR). Observations from a turngym server keep their text,
 * info, terminated and truncated; an MCP tool's result is its text content (its error an error observation);
 * any other observation is shown as its JSON (`text`) and kept as `fields`, with `done` as `terminated`. A server that cannot be reached is UNREACHABLE, one that closes the
 * session or fails a step ENV_FAILURE, one that does not answer in time TIMEOUT.
 */
import WebSocket from 'ws';
import { z } from 'zod';
import { describeError, TurngymError } from '../../core/errors.js';
import { DEFAULT_MAX_ACTION_CHARS } from '../env.js';
import type { Action, Env, EnvSpec, Observation, ResetOptions, ResetResult, StepResult, ToolSpec } from '../env.js';
import { resolveAction } from '../actions.js';
import { type WrapOptions, WrappedEnv } from '../wrappers.js';
import { OPENENV_PREFIX, OPENENV_WS_PATH, type OpenEnvResult } from './openenv-protocol.js';
import { toolsFromWire, type WireTool } from './protocol.js';

/** The horizon of an OpenEnv env whose server does not say one, unless the kwargs set it. */
const DEFAULT_OPENENV_TURNS = 100;

/** Options of {@link connectOpenEnv} (the kwargs of `make('openenv+...')`). */
export const OpenEnvClientOptions = z.strictObject({
  token: z
    .string()
    .optional()
    .describe('Sent as `Authorization: Bearer TOKEN` with every request (a turngym server with --token needs it)'),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .default(60_000)
    .describe("How long to wait for each reply (OpenEnv's client waits 60 s)"),
  maxTurns: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "The horizon when a reset sets none: default a turngym server's own, else 100 (the server's env may end episodes sooner)",
    ),
});
export type OpenEnvClientOptions = z.input<typeof OpenEnvClientOptions>;

/**
 * Connects to the OpenEnv server at `url` (`http://HOST:PORT`, `ws://HOST:PORT`, with or without the
 * `openenv+` prefix) and returns its session as an env in the standard wrappers.
 */
export async function connectOpenEnv(
  url: string,
  options: OpenEnvClientOptions = {},
  wrapOptions: WrapOptions = {},
): Promise<OpenEnvEnv> {
  const parsed = OpenEnvClientOptions.safeParse(options);
  if (!parsed.success)
    throw new TurngymError(
      'INVALID_KWARGS',
      `Invalid options for an OpenEnv server: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`).join('; ')}.`,
    );
  const session = await OpenEnvSession.open(baseUrl(url), parsed.data);
  return new OpenEnvEnv(session, wrapOptions);
}

/** An OpenEnv server's session, in the standard wrappers. */
export class OpenEnvEnv extends WrappedEnv<OpenEnvSession> {
  /** The server's base URL. */
  get url(): string {
    return this.bare.url;
  }
}

/** One OpenEnv session as a bare `Env` (call order is {@link OpenEnvEnv}'s business). */
export class OpenEnvSession implements Env {
  private pending: { resolve(reply: Reply): void; reject(error: Error): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the session is over (every later request throws it), once it is. */
  private ended: TurngymError | undefined;

  private constructor(
    readonly url: string,
    readonly spec: EnvSpec,
    private readonly socket: WebSocket,
    private readonly shape: Shape,
    private readonly timeoutMs: number,
  ) {
    socket.on('message', (data) => {
      let reply: Reply;
      try {
        reply = JSON.parse(data.toString()) as Reply;
      } catch {
        reply = {
          type: 'error',
          data: { code: 'INVALID_REPLY', message: 'the server sent a message that is not JSON' },
        };
      }
      if (typeof reply !== 'object' || reply === null || typeof reply.type !== 'string')
        reply = { type: 'error', data: { code: 'INVALID_REPLY', message: 'the server sent a message without a type' } };
      const pending = this.pending;
      this.pending = undefined;
      if (pending) pending.resolve(reply);
      else if (reply.type === 'error') {
        // Unasked: a server at capacity says so as the session opens, an idle one as it ends it; then it closes.
        const data = (typeof reply.data === 'object' && reply.data !== null ? reply.data : {}) as {
          code?: unknown;
          message?: unknown;
        };
        this.ended ??= new TurngymError(
          data.code === 'CAPACITY_REACHED' ? 'CAPACITY_REACHED' : 'ENV_FAILURE',
          `The OpenEnv server at ${url} ended the session: ${String(data.message)} (${String(data.code)}).`,
        );
      }
    });
    socket.on('error', () => undefined); // 'close' follows.
    socket.on('close', (code) => {
      this.ended ??= new TurngymError(
        'ENV_FAILURE',
        `The OpenEnv server at ${url} closed the session (WebSocket code ${code}): make the env again.`,
      );
      this.pending?.reject(this.ended);
      this.pending = undefined;
    });
  }

  /** Reads the server's schema and metadata, and opens a session. */
  static async open(url: string, options: z.output<typeof OpenEnvClientOptions>): Promise<OpenEnvSession> {
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const get = async (path: string): Promise<Record<string, unknown>> => {
      let response: Response;
      try {
        response = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(options.timeoutMs) });
      } catch (error) {
        throw new TurngymError(
          'UNREACHABLE',
          `Could not reach the OpenEnv server at ${url} (${describeError((error as Error).cause ?? error)}): is it running, and is that its address?`,
        );
      }
      if (!response.ok)
        throw new TurngymError(
          'ENV_FAILURE',
          `The OpenEnv server at ${url} answered GET ${path} with HTTP ${response.status}${response.status === 401 ? ' (it needs a token: kwargs {"token": ...})' : ''}.`,
        );
      const body: unknown = await response.json().catch(() => undefined);
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new TurngymError(
          'ENV_FAILURE',
          `The OpenEnv server at ${url} answered GET ${path} with something other than a JSON object: is it an OpenEnv server?`,
        );
      return body as Record<string, unknown>;
    };
    // GET /state is a simulation-mode route: a server in production mode has none.
    const [schema, metadata, state] = await Promise.all([
      get('/schema'),
      get('/metadata'),
      get('/state').catch(() => ({}) as Record<string, unknown>),
    ]);
    const { tools, shape } = toolsOf(schema.action);
    // A turngym server's state says its env's horizon; another server's env ends its episodes itself.
    const horizon = typeof state.max_turns === 'number' && state.max_turns >= 1 ? state.max_turns : undefined;
    const name = typeof metadata.name === 'string' ? metadata.name : url;
    const spec: EnvSpec = {
      id: `${OPENENV_PREFIX}${url}`,
      description:
        typeof metadata.description === 'string' && metadata.description !== ''
          ? metadata.description
          : `The OpenEnv env ${name} at ${url}.`,
      tools,
      maxTurns: options.maxTurns ?? horizon ?? DEFAULT_OPENENV_TURNS,
      deterministic: false,
      concurrentSafe: true,
      maxActionChars: DEFAULT_MAX_ACTION_CHARS,
    };
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}${OPENENV_WS_PATH}`, {
      headers,
      handshakeTimeout: options.timeoutMs,
      maxPayload: 100 * 1024 * 1024,
    });
    // Listening before it opens: a server at capacity speaks first (CAPACITY_REACHED), then closes.
    const session = new OpenEnvSession(url, spec, socket, shape, options.timeoutMs);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (request, response) => {
        // The upgrade was answered with HTTP: full (503), a token needed (401), or not an OpenEnv server.
        request.destroy();
        const status = response.statusCode ?? 0;
        reject(
          new TurngymError(
            status === 503 ? 'CAPACITY_REACHED' : 'ENV_FAILURE',
            `The OpenEnv server at ${url} refused a session with HTTP ${status}${status === 503 ? ' (it is full or shutting down; try again later)' : status === 401 ? ' (it needs a token: kwargs {"token": ...})' : ''}.`,
          ),
        );
      });
      socket.once('error', (error) =>
        reject(
          new TurngymError(
            'UNREACHABLE',
            `Could not open a session at ${url}${OPENENV_WS_PATH}: ${describeError(error)}.`,
          ),
        ),
      );
    });
    if (shape === 'mcp') {
      // An MCP env lists its tools as an action that needs no reset (OpenEnv's ListToolsAction).
      const listed = await session
        .request({ type: 'step', data: { type: 'list_tools' } })
        .catch(async (error: unknown) => {
          await session.close();
          throw error;
        });
      const observation = listed.observation as {
        tools?: { name: string; description?: string; input_schema?: unknown; inputSchema?: unknown }[];
      };
      for (const tool of toolsFromWire(
        (observation.tools ?? []).map((tool) => ({
          name: tool.name,
          description: tool.description ?? '',
          parameters: (tool.input_schema ?? tool.inputSchema ?? {}) as Record<string, unknown>,
        })),
      ))
        spec.tools.push(tool);
    }
    return session;
  }

  async reset(options: ResetOptions = {}): Promise<ResetResult> {
    // The horizon is kept here; only a turngym server reads it as a reset option too.
    const { maxTurns, ...rest } = options.options ?? {};
    const data = {
      ...rest,
      ...(this.shape === 'turngym' && maxTurns !== undefined ? { maxTurns } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    };
    const result = await this.request({ type: 'reset', data });
    const observation = this.observationOf(result);
    const info = (observation.info as Record<string, unknown> | undefined) ?? {};
    return {
      observation: observation.observation,
      info: { ...info, seed: options.seed ?? (info.seed as number) ?? 0 },
    };
  }

  async step(action: Action): Promise<StepResult> {
    const resolved = resolveAction(action, this.spec.tools, this.spec.maxActionChars);
    if (!resolved.ok) return mistake(resolved.error.code, resolved.error.message);
    const { tool, args } = resolved.call;
    let result: OpenEnvResult;
    try {
      const data =
        this.shape === 'turngym'
          ? { tool, args }
          : this.shape === 'mcp'
            ? { type: 'call_tool', tool_name: tool, arguments: args }
            : args;
      result = await this.request({ type: 'step', data });
    } catch (error) {
      if (TurngymError.is(error, 'INVALID_OPTIONS')) return mistake('INVALID_ARGS', error.message);
      throw error;
    }
    const { observation, info, terminated, truncated } = this.observationOf(result);
    return {
      observation,
      reward: rewardOf(result.reward),
      terminated,
      truncated,
      info: { tool, ...info },
    };
  }

  /** Closes the session (`{"type": "close"}`, then the socket); a request waiting for its reply fails with ENV_CLOSED. */
  async close(): Promise<void> {
    this.ended = new TurngymError('ENV_CLOSED', `The session with the OpenEnv server at ${this.url} is closed.`);
    clearTimeout(this.timer);
    this.pending?.reject(this.ended);
    this.pending = undefined;
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: 'close' }));
      this.socket.close(1000);
    } else this.socket.terminate();
  }

  /** Sends a message and waits for its reply (one at a time: OpenEnv's replies carry no request id). */
  request(message: { type: string; data: unknown }): Promise<OpenEnvResult> {
    const next = this.queue.then(() => this.exchange(message));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async exchange(message: { type: string; data: unknown }): Promise<OpenEnvResult> {
    if (this.ended) throw this.ended;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.timer = setTimeout(() => {
        this.pending = undefined;
        this.ended = new TurngymError(
          'TIMEOUT',
          `The OpenEnv server at ${this.url} did not answer a ${message.type} within ${this.timeoutMs} ms; the session is closed.`,
        );
        this.socket.terminate();
        reject(this.ended);
      }, this.timeoutMs);
      this.socket.send(JSON.stringify(message));
    }).finally(() => clearTimeout(this.timer));
    if (reply.type === 'observation' && typeof reply.data === 'object' && reply.data !== null)
      return reply.data as OpenEnvResult;
    const data = (reply.data ?? {}) as { code?: unknown; message?: unknown; errors?: unknown };
    // A VALIDATION_ERROR lists its fields as pydantic does: [{loc, msg}, ...].
    const fields = Array.isArray(data.errors)
      ? (data.errors as { loc?: unknown; msg?: unknown }[])
          .slice(0, 5)
          .map((issue) => `${Array.isArray(issue.loc) ? issue.loc.join('.') : ''}: ${String(issue.msg)}`)
          .join('; ')
      : '';
    const why = `${String(data.message ?? 'no message')}${fields ? ` (${fields})` : ''} (${String(data.code ?? reply.type)})`;
    if (data.code === 'VALIDATION_ERROR') throw new TurngymError('INVALID_OPTIONS', `The server refused it: ${why}.`);
    if (data.code === 'CAPACITY_REACHED')
      throw new TurngymError('CAPACITY_REACHED', `The OpenEnv server at ${this.url} is full: ${why}.`);
    throw new TurngymError('ENV_FAILURE', `The OpenEnv server at ${this.url} failed a ${message.type}: ${why}.`);
  }

  private observationOf(result: OpenEnvResult): {
    observation: Observation;
    info: Record<string, unknown>;
    terminated: boolean;
    truncated: boolean;
  } {
    const raw = (
      typeof result.observation === 'object' && result.observation !== null ? result.observation : {}
    ) as Record<string, unknown>;
    if (this.shape === 'turngym' && typeof raw.text === 'string') {
      const { text, screenshot, fields, info, terminated, truncated } = raw;
      return {
        observation: {
          text,
          ...(typeof screenshot === 'string' ? { screenshot } : {}),
          ...(typeof fields === 'object' && fields !== null ? { fields: fields as Record<string, unknown> } : {}),
        },
        info: typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : {},
        terminated: terminated === true,
        truncated: truncated === true,
      };
    }
    const ended = { terminated: result.done === true, truncated: false };
    if (this.shape === 'mcp' && (raw.result !== undefined || raw.error !== undefined)) {
      // CallToolObservation: the tool's text content, or its error (an agent's mistake: it takes a turn).
      const error = raw.error as { message?: unknown } | null | undefined;
      if (error) {
        const message = String(error.message ?? 'the tool failed');
        return {
          observation: { text: `Error: ${message}`, fields: raw },
          info: { error: { code: 'TOOL_ERROR', message } },
          ...ended,
        };
      }
      const called = raw.result as { content?: { type?: string; text?: string }[]; is_error?: unknown } | null;
      if (Array.isArray(called?.content)) {
        const text = called.content
          .map((part) => (typeof part.text === 'string' ? part.text : JSON.stringify(part)))
          .join('\n');
        // A tool that reports an error in its result (MCP's isError) failed like one that raised.
        const info = called.is_error === true ? { error: { code: 'TOOL_ERROR', message: text } } : {};
        return { observation: { text, fields: raw }, info, ...ended };
      }
    }
    return { observation: { text: JSON.stringify(raw), fields: raw }, info: {}, ...ended };
  }
}

/**
 * How a server takes actions: a turngym server's `{tool, args}`; an MCP env's `CallToolAction`; or any other
 * action model's fields (one tool).
 */
type Shape = 'turngym' | 'mcp' | 'fields';

interface Reply {
  type: string;
  data?: unknown;
}

/** `http://HOST:PORT` from what a user writes (the `openenv+` prefix, ws://, a trailing slash or /ws are fine). */
function baseUrl(url: string): string {
  const bare = url.startsWith(OPENENV_PREFIX) ? url.slice(OPENENV_PREFIX.length) : url;
  let parsed: URL | undefined;
  try {
    parsed = new URL(bare);
  } catch {
    // reported below
  }
  if (!parsed || !['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol))
    throw new TurngymError(
      'INVALID_OPTIONS',
      `'${url.slice(0, 200)}' is not the address of an OpenEnv server: write openenv+http://HOST:PORT (or https://, ws://, wss://).`,
    );
  const protocol = parsed.protocol === 'ws:' ? 'http:' : parsed.protocol === 'wss:' ? 'https:' : parsed.protocol;
  const path = parsed.pathname.replace(/\/(ws)?\/?$/, '');
  return `${protocol}//${parsed.host}${path}`;
}

/**
 * The tools of a server's action schema: a turngym server's tool shapes (`{"tool": {"const": NAME}, "args":
 * SCHEMA}`), or one tool whose arguments are the action's fields, named after the action (`EchoAction` is `echo`).
 */
function toolsOf(action: unknown): { tools: ToolSpec[]; shape: Shape } {
  const schema = (typeof action === 'object' && action !== null ? action : {}) as Record<string, unknown>;
  const variants = Array.isArray(schema.anyOf) ? (schema.anyOf as Record<string, unknown>[]) : [];
  const perTool: WireTool[] = [];
  for (const variant of variants) {
    const properties = (variant.properties ?? {}) as Record<string, Record<string, unknown>>;
    const name = properties.tool?.const;
    if (typeof name === 'string' && typeof properties.args === 'object')
      perTool.push({
        name,
        description: typeof variant.description === 'string' ? variant.description : '',
        parameters: properties.args,
      });
  }
  if (schema.title === 'TurngymAction' && perTool.length > 0)
    return { tools: toolsFromWire(perTool), shape: 'turngym' };
  const properties = { ...((schema.properties ?? {}) as Record<string, unknown>) };
  // An MCP env (OpenEnv's CallToolAction): its tools are listed once the session is open.
  if ('tool_name' in properties && 'arguments' in properties) return { tools: [], shape: 'mcp' };
  delete properties.metadata;
  const required = Array.isArray(schema.required)
    ? (schema.required as string[]).filter((key) => key !== 'metadata')
    : [];
  const title = typeof schema.title === 'string' ? schema.title : 'Action';
  const name =
    title
      .replace(/Action$/, '')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '') || 'act';
  const parameters = {
    type: 'object',
    properties,
    required,
    additionalProperties: false,
    ...(schema.$defs ? { $defs: schema.$defs } : {}),
  };
  return {
    tools: toolsFromWire([
      {
        name,
        description: typeof schema.description === 'string' ? schema.description : `Sends a ${title} to the env.`,
        parameters,
      },
    ]),
    shape: 'fields',
  };
}

/** OpenEnv's reward (a number, a boolean or null) as turngym's finite number. */
function rewardOf(reward: unknown): number {
  if (typeof reward === 'boolean') return reward ? 1 : 0;
  return typeof reward === 'number' && Number.isFinite(reward) ? reward : 0;
}

function mistake(code: string, message: string): StepResult {
  return {
    observation: { text: `Error: ${message}` },
    reward: 0,
    terminated: false,
    truncated: false,
    info: { error: { code: code as 'INVALID_ARGS', message } },
  };
}
