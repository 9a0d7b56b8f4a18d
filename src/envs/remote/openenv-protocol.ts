/**
 * OpenEnv's wire format (meta-pytorch/OpenEnv, `openenv-core`), as turngym speaks it in both directions: the
 * server in openenv-server.ts answers it, the client in openenv-client.ts sends it.
 *
 * OpenEnv serves one env per server. A session is one WebSocket connection at `/ws` with one env instance;
 * the client sends `{"type": "reset"|"step"|"state"|"close", "data": {...}}` and the server answers each
 * with `{"type": "observation"|"state"|"error", "data": {...}}`. An observation's data is
 * `{"observation": {...}, "reward": number | null, "done": boolean}`; an error's is `{"message", "code"}`
 * with one of {@link OPENENV_ERROR_CODES}. Over HTTP the same server answers GET /health, /metadata,
 * /schema (JSON Schemas of action, observation and state) and /state, and POST /reset and /step, each on
 * an env made for that request alone (OpenEnv's HTTP routes keep no session).
 *
 * How a turngym env maps onto it (docs/openenv.md):
 * - **Actions** (a step's `data`): `{"tool": "guess", "args": {"number": 8}}`, or text the env parses
 *   (`{"text": "guess(8)"}`), or OpenEnv's MCP action `{"type": "call_tool", "tool_name": "guess",
 *   "arguments": {...}}`; `{"type": "list_tools"}` lists the tools without taking a turn. Each may carry
 *   OpenEnv's `metadata`. The envelope is checked here (VALIDATION_ERROR); what is inside (an unknown tool, a
 *   bad argument) is the env's business and comes back as an error observation, as every agent mistake does.
 * - **Observations**: `{"text", "screenshot"?, "fields"?, "info", "terminated", "truncated"}` (turngym's
 *   observation and info; `done` is terminated or truncated).
 * - **Reset data**: `seed` and `episode_id` as OpenEnv defines them; any other key is a reset option of the
 *   env (`difficulty`, `split`, `maxTurns`), refused when the env does not read it.
 */
import { z } from 'zod';
import { inputJsonSchema, toolJsonSchema } from '../actions.js';
import type { Action, Observation, ResetInfo, StepInfo, StepResult, ToolSpec } from '../env.js';

/** OpenEnv's WebSocket error codes (its `WSErrorCode`). */
export const OPENENV_ERROR_CODES = [
  'INVALID_JSON',
  'UNKNOWN_TYPE',
  'VALIDATION_ERROR',
  'EXECUTION_ERROR',
  'CAPACITY_REACHED',
  'FACTORY_ERROR',
  'SESSION_ERROR',
] as const;
export type OpenEnvErrorCode = (typeof OPENENV_ERROR_CODES)[number];

/** The prefix of an OpenEnv server's address where an env id is expected: `openenv+http://127.0.0.1:8000`. */
export const OPENENV_PREFIX = 'openenv+';

/** True when `id` names an OpenEnv server rather than a registered env. */
export function isOpenEnvId(id: string): boolean {
  return id.startsWith(OPENENV_PREFIX);
}

/** The WebSocket path of an OpenEnv server's sessions. */
export const OPENENV_WS_PATH = '/ws';

/** A problem with one field of a request, as OpenEnv (pydantic) reports it: `loc` is the path to it. */
export interface OpenEnvIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
}

const Metadata = z.record(z.string(), z.unknown()).optional().describe("OpenEnv's action metadata (not used)");
const Args = z.record(z.string(), z.unknown());

/** The WebSocket messages a client sends; each closed, as OpenEnv's (`extra="forbid"`). */
export const OpenEnvClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('reset'), data: z.record(z.string(), z.unknown()).default({}) }),
  z.strictObject({ type: z.literal('step'), data: z.record(z.string(), z.unknown()) }),
  z.strictObject({ type: z.literal('state') }),
  z.strictObject({ type: z.literal('close') }),
]);
export type OpenEnvClientMessage = z.infer<typeof OpenEnvClientMessage>;
export const OPENENV_MESSAGE_TYPES = OpenEnvClientMessage.options.map((option) => option.shape.type.value);

/** What a reset's `data` may hold besides the env's reset options. */
export const ResetData = z.object({
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('Seed of the episode'),
  episode_id: z.string().max(255).optional().describe('The episode id `state` reports (default: a fresh one)'),
});

/** The action shapes a step's `data` may take (see the module docs). */
export const OpenEnvAction = z.union([
  z.strictObject({ tool: z.string().max(256), args: Args.default({}), metadata: Metadata }),
  z.strictObject({ text: z.string(), metadata: Metadata }),
  z.strictObject({
    type: z.literal('call_tool'),
    tool_name: z.string().max(256),
    arguments: Args.default({}),
    metadata: Metadata,
  }),
  z.strictObject({ type: z.literal('list_tools'), metadata: Metadata }),
]);

/** A step's data as turngym's action, or `'list_tools'`; a shape that is none of them is a list of issues. */
export function actionOf(data: Record<string, unknown>): Action | 'list_tools' | OpenEnvIssue[] {
  const parsed = OpenEnvAction.safeParse(data);
  if (!parsed.success) {
    return [
      {
        type: 'value_error',
        loc: ['data'],
        msg: `an action is {"tool": NAME, "args": {...}}, {"text": "..."}, {"type": "call_tool", "tool_name": NAME, "arguments": {...}} or {"type": "list_tools"}; got the fields ${
          Object.keys(data)
            .slice(0, 8)
            .map((key) => JSON.stringify(key.slice(0, 64)))
            .join(', ') || '(none)'
        }`,
      },
    ];
  }
  const action = parsed.data;
  if ('tool' in action) return { tool: action.tool, args: action.args };
  if ('text' in action) return action.text;
  if (action.type === 'call_tool') return { tool: action.tool_name, args: action.arguments };
  return 'list_tools';
}

/** The `observation` of an OpenEnv reply for a turngym observation. */
export interface OpenEnvObservation extends Observation {
  info: ResetInfo | StepInfo;
  terminated: boolean;
  truncated: boolean;
}

/** An observation reply's data: OpenEnv's `{observation, reward, done}`. */
export interface OpenEnvResult {
  observation: Record<string, unknown>;
  reward: number | null;
  done: boolean;
}

/** A reset's result as OpenEnv's data (reward null, not done). */
export function resetResult(observation: Observation, info: ResetInfo): OpenEnvResult {
  return { observation: { ...observation, info, terminated: false, truncated: false }, reward: null, done: false };
}

/** A step's result as OpenEnv's data. */
export function stepResult(result: StepResult): OpenEnvResult {
  return {
    observation: {
      ...result.observation,
      info: result.info,
      terminated: result.terminated,
      truncated: result.truncated,
    },
    reward: result.reward,
    done: result.terminated || result.truncated,
  };
}

/**
 * A step's result for an MCP action (`call_tool`): turngym's observation plus the fields of OpenEnv's
 * `CallToolObservation`, so that its `MCPToolClient.call_tool` returns the observation's text (`result.data`).
 * An agent's mistake stays an observation (`result.is_error`), not a `ToolError`, which that client raises.
 */
export function callToolResult(result: StepResult, toolName: string): OpenEnvResult {
  const base = stepResult(result);
  const text = result.observation.text;
  return {
    ...base,
    observation: {
      ...base.observation,
      tool_name: toolName,
      result: {
        content: [{ type: 'text', text }],
        structured_content: null,
        meta: null,
        data: text,
        is_error: result.info.error !== undefined,
      },
      error: null,
    },
  };
}

/** Tools as OpenEnv's MCP tool list (`ListToolsObservation.tools`). */
export function toolsList(tools: readonly ToolSpec[]): { name: string; description: string; input_schema: unknown }[] {
  return tools.map((tool) => ({ name: tool.name, description: tool.description, input_schema: toolJsonSchema(tool) }));
}

const ObservationShape = z
  .object({
    text: z.string().describe('What a language agent reads'),
    screenshot: z.string().optional().describe('A PNG screenshot, base64-encoded (web envs, on request)'),
    fields: z.record(z.string(), z.unknown()).optional().describe('Env-specific structured fields'),
    info: z
      .record(z.string(), z.unknown())
      .describe("turngym's reset or step info: seed, error {code, message}, success, tool, ..."),
    terminated: z.boolean().describe('The task ended (answer given, goal reached, fatal error)'),
    truncated: z.boolean().describe('The horizon cut the episode off before the task ended'),
  })
  .meta({ title: 'TurngymObservation' });

const StateShape = z
  .object({
    episode_id: z.string().nullable().describe('The current episode (null before the first reset)'),
    step_count: z.number().int().min(0).describe('Steps taken in the current episode'),
    env_id: z.string().describe('The turngym env id'),
    done: z.boolean().describe('The current episode has ended'),
    max_turns: z.number().int().min(1).describe("The current episode's horizon (before a reset: the env's default)"),
  })
  .meta({ title: 'TurngymState' });

/** The state a session reports (OpenEnv's `State`, with turngym's env id, whether the episode ended, and its horizon). */
export type OpenEnvState = z.infer<typeof StateShape>;

/** `GET /schema`: the action (one shape per tool, plus text and MCP's), observation and state as JSON Schema. */
export function schemaOf(tools: readonly ToolSpec[]): { action: unknown; observation: unknown; state: unknown } {
  const perTool = tools.map((tool) => ({
    type: 'object',
    title: `${tool.name} call`,
    description: tool.description,
    properties: {
      tool: { const: tool.name },
      args: toolJsonSchema(tool),
      metadata: { type: 'object' },
    },
    required: ['tool'],
    additionalProperties: false,
  }));
  const action = {
    title: 'TurngymAction',
    description:
      'A tool call {"tool", "args"}, text the env parses {"text"}, an MCP {"type": "call_tool", "tool_name", "arguments"}, or {"type": "list_tools"}.',
    anyOf: [
      ...perTool,
      {
        type: 'object',
        title: 'text',
        properties: { text: { type: 'string' }, metadata: { type: 'object' } },
        required: ['text'],
        additionalProperties: false,
      },
      {
        type: 'object',
        title: 'call_tool',
        properties: {
          type: { const: 'call_tool' },
          tool_name: { enum: tools.map((tool) => tool.name) },
          arguments: { type: 'object' },
          metadata: { type: 'object' },
        },
        required: ['type', 'tool_name'],
        additionalProperties: false,
      },
      {
        type: 'object',
        title: 'list_tools',
        properties: { type: { const: 'list_tools' }, metadata: { type: 'object' } },
        required: ['type'],
        additionalProperties: false,
      },
    ],
  };
  return { action, observation: inputJsonSchema(ObservationShape), state: inputJsonSchema(StateShape) };
}

/** zod issues in OpenEnv's (pydantic's) shape. */
export function issuesOf(issues: readonly { code: string; path: readonly PropertyKey[]; message: string }[]) {
  return issues.slice(0, 10).map((issue): OpenEnvIssue => ({
    type: issue.code,
    loc: issue.path.map((part) => (typeof part === 'number' ? part : String(part))),
    msg: issue.message,
  }));
}
