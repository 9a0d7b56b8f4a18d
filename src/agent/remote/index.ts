/**
 * Remote envs and agents over WebSocket (protocol v1, see docs/protocol.md): the env server, the
 * TypeScript client (`RemoteEnv`), a pool of many servers with failover (`RemotePool`, docs/scaling.md),
 * remote agent servers, and the OpenAI-compatible chat agent.
 */
export { DEFAULT_SERVE_OPTIONS, RemoteServer, serve, type ServeOptions } from './server.js';
export { ConnectionLostError, RemoteClient, type RemoteClientOptions, RemoteEnv, RemoteError, type Request as RemoteRequest, type SessionChannel } from './client.js';
export { type EndpointStatus, type EnvFactory, envFactory, isRetryable, parseEndpoints, PooledEnv, RemotePool, type RemotePoolOptions } from './pool.js';
export { type ActDecision, type ActRequest, type AgentServer, RemoteAgent, type RemoteAgentOptions, serveAgent, type ServeAgentOptions } from './agent.js';
export { OpenAIAgent, type OpenAIAgentOptions } from './openai.js';
export * as protocol from './protocol.js';
export type { AgentReply, AgentRequest, ClientMessage, ServerMessage, WireErrorCode, WireSpec, WireTool } from './protocol.js';
