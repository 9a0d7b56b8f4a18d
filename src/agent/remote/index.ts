/**
 * Remote agents over WebSocket (protocol v1, see docs/protocol.md): remote agent servers, the
 * OpenAI-compatible chat agent, and the whole protocol (`protocol`: the env messages of src/envs/remote/
 * and the agent messages).
 */
export {
  type ActDecision,
  type ActRequest,
  type AgentServer,
  RemoteAgent,
  type RemoteAgentOptions,
  serveAgent,
  type ServeAgentOptions,
} from './agent.js';
export { OpenAIAgent, type OpenAIAgentOptions } from './openai.js';
export * as protocol from './protocol.js';
export type { AgentReply, AgentRequest } from './protocol.js';
