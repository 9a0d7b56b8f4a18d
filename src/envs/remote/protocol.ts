/**
 * The turngym wire protocol, version 1: JSON text frames over WebSocket at `ws://HOST:PORT/v1`.
 *
 * One zod schema per message, a discriminated union on `type` per direction; the JSON Schema published in
 * docs/protocol.schema.json is generated from these schemas (`npx tsx scripts/protocol-schema.ts`), so the
 * types, the parser and the published schema never drift apart. Keys are snake_case.
 *
 * Two exchanges use it:
 * - **Env sessions** (`turngym serve`): a client (`ClientMessage`) asks the server (`ServerMessage`) to make,
 *   reset, step and close envs. Every request carries a client-chosen `id` that its reply echoes; many
 *   sessions share one connection.
 * - **Remote agents** (`turngym run --agent ws://...`): turngym sends `act` (`AgentRequest`) and the agent
 *   server answers `action` (`AgentReply`). Those messages, and the JSON Schema of the whole protocol, live
 *   in the agent layer (src/agent/remote/protocol.ts), built from the shared pieces here: the version, the
 *   error codes, request ids, observations, actions, tools and the `error` message.
 */
import { z } from 'zod';
import { toolJsonSchema } from '../actions.js';
import type { EnvSpec, ToolSpec } from '../env.js';
import { type ErrorCode, TurngymError } from '../../core/errors.js';

/** The protocol version this module speaks. */
export const PROTOCOL_VERSION = 1;
/** The URL path of protocol version 1. */
export const PROTOCOL_PATH = '/v1';

/**
 * A protocol endpoint's URL from what a user writes (`what` names the server in the error): `ws://HOST:PORT`
 * gets `/v1`; a URL that does not parse, or is not ws:// or wss://, is an INVALID_OPTIONS error.
 */
export function endpointUrl(url: string, what: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== 'ws:' && parsed?.protocol !== 'wss:') {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `'${url.slice(0, 200)}' is not the URL of ${what}: write ws://HOST:PORT (or wss://), e.g. ws://127.0.0.1:8765.`,
    );
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = PROTOCOL_PATH;
  return parsed.href;
}

/** Error codes on the wire. */
export const WIRE_ERROR_CODES = [
  'INVALID_JSON',
  'VALIDATION_ERROR',
  'UNKNOWN_ENV',
  'UNKNOWN_SESSION',
  'CAPACITY_REACHED',
  'UNAUTHORIZED',
  'TIMEOUT',
  'EPISODE_ENDED',
  'INTERNAL',
] as const;
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

/**
 * A message (or an object a peer writes inside one): closed, so a field the protocol does not define is
 * refused with the fields it does define (a misspelt `seeed` fails loudly instead of being ignored).
 */
export function closedObject<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key).slice(0, 66)).join(', ')}; the fields are ${known}`
        : undefined,
  });
}

export const RequestId = z
  .union([z.string().max(128), z.number().int()])
  .describe('Client-chosen request id (a string of at most 128 characters, or an integer); echoed in the reply.');
const SessionId = z.string().min(1).max(128).describe('Session id, from `made`.');

export const ToolCallSchema = z
  .object({
    tool: z.string().describe('Tool name, e.g. "guess".'),
    args: z.record(z.string(), z.unknown()).describe("Named arguments, validated by the tool's JSON Schema."),
  })
  .describe('A structured action.');

export const ActionSchema = z
  .union([
    z.string().describe('Text the env parses into a tool call: `guess(42)`, JSON, or <tool_call>{...}</tool_call>.'),
    ToolCallSchema,
    z
      .unknown()
      .describe(
        'Anything else is not refused by the protocol: the env answers it with an error observation (UNPARSABLE_ACTION), as it answers every agent mistake.',
      ),
  ])
  .describe('A tool call object or text.');

export const ObservationSchema = z
  .object({
    text: z.string().describe('What a language agent reads.'),
    screenshot: z.string().optional().describe('A PNG screenshot, base64-encoded (web envs, on request).'),
    fields: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Env-specific structured fields (never the ground truth).'),
  })
  .describe('What an agent sees.');

export const Info = z.record(z.string(), z.unknown());

export const WireToolSchema = z.object({
  name: z.string(),
  description: z.string(),
  parameters: z.record(z.string(), z.unknown()).describe('The arguments as JSON Schema (an object schema).'),
});

export const WireSpecSchema = z
  .object({
    id: z.string().describe('family/name-vN'),
    description: z.string(),
    tools: z.array(WireToolSchema),
    max_turns: z.number().int().describe('Default horizon: the episode is truncated after this many steps.'),
    deterministic: z.boolean().describe('The same seed always yields the same task and observations.'),
    concurrent_safe: z.boolean(),
    max_action_chars: z
      .number()
      .int()
      .describe('Largest accepted action in characters; larger actions get an ACTION_TOO_LARGE observation.'),
    answer_tool: z
      .string()
      .optional()
      .describe(
        'The tool whose first argument carries a final answer (for information-gain rewards), when the env has one.',
      ),
  })
  .describe("An environment's static description.");

// ---------------------------------------------------------------------------------------------------------
// Client -> server

export const HelloMessage = closedObject({
  type: z.literal('hello'),
  id: RequestId,
  protocol: z
    .literal(PROTOCOL_VERSION)
    .describe('Protocol version; the server answers an unsupported version with VALIDATION_ERROR.'),
  role: z
    .enum(['agent', 'trainer'])
    .describe("`trainer` may read ground truth and needs the server's token; `agent` never can."),
  token: z
    .string()
    .max(1024)
    .optional()
    .describe("The server's token; required for every role when the server has one."),
});
export const ListMessage = closedObject({ type: z.literal('list'), id: RequestId });
export const MakeMessage = closedObject({
  type: z.literal('make'),
  id: RequestId,
  env: z.string().max(256).describe('A registered env id, e.g. "puzzle/guess-number-v0".'),
  kwargs: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "Keyword arguments: only those `list` shows for this env (the env's remote kwargs, within their bounds); the operator sets the rest.",
    ),
});
export const ResetMessage = closedObject({
  type: z.literal('reset'),
  id: RequestId,
  session: SessionId,
  seed: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).optional(),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'Env options, e.g. {"difficulty": 3, "maxTurns": 8, "split": "train"}; an option the env does not read is refused (VALIDATION_ERROR naming those it reads).',
    ),
});
export const StepMessage = closedObject({
  type: z.literal('step'),
  id: RequestId,
  session: SessionId,
  action: ActionSchema,
});
export const CloseMessage = closedObject({ type: z.literal('close'), id: RequestId, session: SessionId });
export const AttachMessage = closedObject({
  type: z.literal('attach'),
  id: RequestId,
  session: SessionId,
  resume_token: z.string().max(256).describe('The token from `made`; proves the session is yours.'),
});
export const GroundTruthRequest = closedObject({ type: z.literal('ground_truth'), id: RequestId, session: SessionId });

export const ClientMessage = z.discriminatedUnion('type', [
  HelloMessage,
  ListMessage,
  MakeMessage,
  ResetMessage,
  StepMessage,
  CloseMessage,
  AttachMessage,
  GroundTruthRequest,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type ClientMessageType = ClientMessage['type'];

// ---------------------------------------------------------------------------------------------------------
// Server -> client

export const LimitsSchema = z
  .object({
    max_connections: z
      .number()
      .int()
      .describe('Connections the server holds at once; beyond it a new connection is refused with HTTP 503.'),
    max_payload_bytes: z.number().int(),
    max_sessions_per_connection: z.number().int(),
    max_sessions: z.number().int(),
    max_in_flight: z
      .number()
      .int()
      .describe('Requests per connection being served at once; beyond it the server stops reading (backpressure).'),
    max_buffered_bytes: z
      .number()
      .int()
      .describe(
        'Bytes of replies a connection may leave unread; beyond it the server stops reading it until they are read, and beyond four times it closes it (1008).',
      ),
    idle_timeout_ms: z.number().int(),
    step_timeout_ms: z.number().int(),
    grace_ms: z.number().int().describe("How long a dropped connection's sessions wait for `attach`."),
  })
  .describe("The server's limits.");

export const WelcomeMessage = closedObject({
  type: z.literal('welcome'),
  id: RequestId,
  protocol: z.literal(PROTOCOL_VERSION),
  server: z.string().describe('Server name and version, e.g. "turngym 0.1.0".'),
  role: z.enum(['agent', 'trainer']),
  limits: LimitsSchema,
});
export const EnvsMessage = closedObject({
  type: z.literal('envs'),
  id: RequestId,
  envs: z.array(
    z.object({
      id: z.string(),
      description: z.string(),
      tools: z.array(WireToolSchema),
      kwargs: z
        .record(z.string(), z.unknown())
        .describe(
          'JSON Schema (an object schema) of the kwargs this connection may set in `make`, with their bounds; the operator sets the rest.',
        ),
    }),
  ),
});
export const MadeMessage = closedObject({
  type: z.literal('made'),
  id: RequestId,
  session: SessionId,
  spec: WireSpecSchema,
  resume_token: z.string().describe('Keep it: `attach` needs it to take the session over after a reconnect.'),
});
export const ObservationMessage = closedObject({
  type: z.literal('observation'),
  id: RequestId,
  session: SessionId,
  observation: ObservationSchema,
  info: Info.describe('Reset info: seed, difficulty, max_turns, ...'),
});
export const StepResultMessage = closedObject({
  type: z.literal('step_result'),
  id: RequestId,
  session: SessionId,
  observation: ObservationSchema,
  reward: z.number(),
  terminated: z.boolean().describe('The task ended (answer given, goal reached, fatal error).'),
  truncated: z.boolean().describe('The horizon cut the episode off before the task ended.'),
  info: Info.describe('Step info: error {code, message} for agent mistakes, success, tool, turn, episode, ...'),
});
export const ClosedMessage = closedObject({ type: z.literal('closed'), id: RequestId, session: SessionId });
export const ErrorMessage = closedObject({
  type: z.literal('error'),
  id: RequestId.nullable().describe("The request's id, or null when the message could not be read."),
  code: z.enum(WIRE_ERROR_CODES),
  message: z.string().describe('What was wrong and what to do.'),
});
export const AttachedMessage = closedObject({
  type: z.literal('attached'),
  id: RequestId,
  session: SessionId,
  spec: WireSpecSchema,
  in_progress: z
    .array(RequestId)
    .describe('Requests of this session still being served; their replies come on this connection.'),
  last_reply: z
    .union([ObservationMessage, StepResultMessage, ErrorMessage])
    .nullable()
    .describe(
      'The last reply the server produced for this session (a client matches it to a request whose reply was lost with the connection).',
    ),
});
export const GroundTruthMessage = closedObject({
  type: z.literal('ground_truth'),
  id: RequestId,
  session: SessionId,
  answer: z.string().describe("The current episode's ground-truth answer (trainer role only)."),
});

export const ServerMessage = z.discriminatedUnion('type', [
  WelcomeMessage,
  EnvsMessage,
  MadeMessage,
  ObservationMessage,
  StepResultMessage,
  ClosedMessage,
  AttachedMessage,
  GroundTruthMessage,
  ErrorMessage,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
export type WireSpec = z.infer<typeof WireSpecSchema>;
export type WireTool = z.infer<typeof WireToolSchema>;
export type WireObservation = z.infer<typeof ObservationSchema>;
export type WireLimits = z.infer<typeof LimitsSchema>;
export type ErrorReply = z.infer<typeof ErrorMessage>;

// ---------------------------------------------------------------------------------------------------------
// Errors

/** A message's schema problems as one line: `path: what is wrong` for each (the first `max`), `(message)` for the whole message. */
export function describeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  max: number,
): string {
  return issues
    .slice(0, max)
    .map((issue) => `${issue.path.map(String).join('.') || '(message)'}: ${issue.message}`)
    .join('; ');
}

/** How a thrown TurngymError's code is reported on the wire. */
export function wireCodeOf(code: ErrorCode | undefined): WireErrorCode {
  switch (code) {
    case 'UNKNOWN_ENV':
      return 'UNKNOWN_ENV';
    case 'INVALID_ENV_ID':
    case 'INVALID_KWARGS':
    case 'INVALID_OPTIONS':
    case 'NOT_SUPPORTED':
      return 'VALIDATION_ERROR';
    case 'RESET_NEEDED':
    case 'EPISODE_ENDED':
      return 'EPISODE_ENDED';
    case 'ENV_CLOSED':
      return 'UNKNOWN_SESSION';
    case 'TIMEOUT':
      return 'TIMEOUT';
    case 'CAPACITY_REACHED':
      return 'CAPACITY_REACHED';
    default:
      return 'INTERNAL';
  }
}

/** How a wire error code is raised on the client, as a TurngymError code. */
export function errorCodeOf(code: WireErrorCode): ErrorCode {
  switch (code) {
    case 'UNKNOWN_ENV':
      return 'UNKNOWN_ENV';
    case 'VALIDATION_ERROR':
    case 'INVALID_JSON':
      return 'INVALID_OPTIONS';
    case 'EPISODE_ENDED':
      return 'EPISODE_ENDED';
    case 'TIMEOUT':
      return 'TIMEOUT';
    case 'UNAUTHORIZED':
      return 'NOT_SUPPORTED';
    default:
      return 'ENV_FAILURE';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Specs and tools, to and from the wire

/** An env spec as sent on the wire (tools as JSON Schema). */
export function specToWire(spec: EnvSpec): WireSpec {
  return {
    id: spec.id,
    description: spec.description,
    tools: toolsToWire(spec.tools),
    max_turns: spec.maxTurns,
    deterministic: spec.deterministic,
    concurrent_safe: spec.concurrentSafe,
    max_action_chars: spec.maxActionChars,
    ...(spec.answerTool !== undefined ? { answer_tool: spec.answerTool } : {}),
  };
}

/** Tools as sent on the wire: name, description, JSON Schema of the arguments. */
export function toolsToWire(tools: readonly ToolSpec[]): WireTool[] {
  return tools.map((tool) => ({ name: tool.name, description: tool.description, parameters: toolJsonSchema(tool) }));
}

/** An env spec received from the wire; each tool's JSON Schema becomes a zod object schema again. */
export function specFromWire(wire: WireSpec): EnvSpec {
  return {
    id: wire.id,
    description: wire.description,
    tools: toolsFromWire(wire.tools),
    maxTurns: wire.max_turns,
    deterministic: wire.deterministic,
    concurrentSafe: wire.concurrent_safe,
    maxActionChars: wire.max_action_chars,
    ...(wire.answer_tool !== undefined ? { answerTool: wire.answer_tool } : {}),
  };
}

/** Tools received from the wire, with zod schemas rebuilt from their JSON Schema. */
export function toolsFromWire(tools: readonly WireTool[]): ToolSpec[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    parameters: objectSchema(tool.parameters),
  }));
}

function objectSchema(json: Record<string, unknown>): z.ZodObject {
  try {
    const schema = z.fromJSONSchema(json as Parameters<typeof z.fromJSONSchema>[0]);
    if ((schema as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'object')
      return schema as unknown as z.ZodObject;
  } catch {
    // A schema zod cannot rebuild: accept any arguments here and let the server's env validate them.
  }
  return z.looseObject({});
}
