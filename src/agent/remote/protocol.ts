/**
 * The agent messages of the turngym wire protocol, version 1 (docs/protocol.md, "Remote agents"): turngym
 * sends `act` (`AgentRequest`) to a remote agent server, which answers `action` (`AgentReply`).
 *
 * They are built from the shared pieces of the env protocol (src/envs/remote/protocol.ts: the version, error
 * codes, request ids, observations, actions, tools, the `error` message). This module re-exports that one, so
 * it is the whole protocol: the package's `protocol` namespace, and the source of the JSON Schema published in
 * docs/protocol.schema.json (`npx tsx scripts/protocol-schema.ts`).
 */
import { z } from 'zod';
import { inputJsonSchema } from '../../envs/actions.js';
import {
  ActionSchema,
  ClientMessage,
  closedObject,
  ErrorMessage,
  Info,
  ObservationSchema,
  PROTOCOL_VERSION,
  RequestId,
  ServerMessage,
  WireToolSchema,
} from '../../envs/remote/protocol.js';

export * from '../../envs/remote/protocol.js';

// ---------------------------------------------------------------------------------------------------------
// turngym -> remote agent server, and back

export const UsageSchema = closedObject({
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
});

export const ActMessage = closedObject({
  type: z.literal('act'),
  id: RequestId,
  env: z.string().describe('The env id being played.'),
  episode: z
    .string()
    .describe('Identifies the episode (stable across its turns), for agents that keep state per episode.'),
  turn: z.number().int().min(0).describe('0 on the first observation of an episode.'),
  observation: ObservationSchema,
  info: Info,
  tools: z.array(WireToolSchema).describe('The tools the agent may call, with JSON Schema arguments.'),
});
export const AgentRequest = z.discriminatedUnion('type', [ActMessage]);
export type AgentRequest = z.infer<typeof AgentRequest>;

export const ActionMessage = closedObject({
  type: z.literal('action'),
  id: RequestId,
  action: ActionSchema,
  logprobs: z
    .array(z.number())
    .optional()
    .describe('Per-token log-probabilities of the action, when the agent samples from a model.'),
  usage: UsageSchema.optional().describe('Token usage of the model call that made the action.'),
});
export const AgentReply = z.discriminatedUnion('type', [ActionMessage, ErrorMessage]);
export type AgentReply = z.infer<typeof AgentReply>;

// ---------------------------------------------------------------------------------------------------------
// JSON Schema

/** Every message's JSON Schema, as published in docs/protocol.schema.json. */
export function protocolJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `turngym wire protocol v${PROTOCOL_VERSION}`,
    description:
      'JSON text frames over WebSocket at ws://HOST:PORT/v1. Generated from src/envs/remote/protocol.ts and src/agent/remote/protocol.ts by scripts/protocol-schema.ts; do not edit by hand.',
    protocol: PROTOCOL_VERSION,
    $defs: {
      ClientMessage: inputJsonSchema(ClientMessage),
      ServerMessage: inputJsonSchema(ServerMessage),
      AgentRequest: inputJsonSchema(AgentRequest),
      AgentReply: inputJsonSchema(AgentReply),
    },
  };
}
