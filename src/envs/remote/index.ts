/**
 * Remote envs over WebSocket (protocol v1, see docs/protocol.md): the env server, the TypeScript client
 * (`RemoteEnv`), and a pool of many servers with failover (`RemotePool`, docs/scaling.md); and OpenEnv's
 * protocol (docs/openenv.md): one env served to OpenEnv's clients (`serveOpenEnv`), and any OpenEnv server as
 * an env (`connectOpenEnv`, or `make('openenv+http://HOST:PORT')`).
 */
export { DEFAULT_SERVE_OPTIONS, RemoteServer, serve, type ServeOptions } from './server.js';
export {
  ConnectionLostError,
  RemoteClient,
  type RemoteClientOptions,
  RemoteEnv,
  RemoteError,
  RemoteSession,
  type Request as RemoteRequest,
  type SessionChannel,
} from './client.js';
export {
  type EndpointStatus,
  isRetryable,
  parseEndpoints,
  PooledEnv,
  RemotePool,
  type RemotePoolOptions,
} from './pool.js';
export { DEFAULT_OPENENV_OPTIONS, OpenEnvServer, type OpenEnvServeOptions, serveOpenEnv } from './openenv-server.js';
export type { ClientMessage, ServerMessage, WireErrorCode, WireSpec, WireTool } from './protocol.js';
