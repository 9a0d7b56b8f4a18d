/**
 * `turngym serve`: hosts every registered env over the WebSocket protocol (ws://HOST:PORT/v1), with
 * GET /healthz on the same port. SIGTERM or SIGINT shuts it down gracefully: no new connections or
 * requests, in-flight steps finish, every env is closed. `--workers N` runs N such servers on ports
 * PORT..PORT+N-1 (see serve-workers.ts).
 */
import type { Command } from 'commander';
import { DEFAULT_SERVE_OPTIONS, serve } from '../agent/remote/server.js';
import { collect, importModules, integer } from './common.js';
import { runWorkers, WORKER_INDEX_VARIABLE, WORKER_PORT_VARIABLE } from './serve-workers.js';

interface ServeCommandOptions {
  host: string;
  port: number;
  token?: string;
  maxSessions: number;
  maxSessionsPerConnection: number;
  maxPayload: number;
  maxInFlight: number;
  idleTimeout: number;
  stepTimeout: number;
  grace: number;
  import: string[];
  workers: number;
}

export function serveCommand(program: Command): void {
  const d = DEFAULT_SERVE_OPTIONS;
  program
    .command('serve')
    .description('serve the registered envs over WebSocket (protocol v1 at ws://HOST:PORT/v1; GET /healthz)')
    .option('--host <host>', 'interface to bind; anything but loopback needs --token', d.host)
    .option('--port <port>', 'TCP port (0: any free port)', integer('--port', { min: 0, max: 65535 }), d.port)
    .option('--token <token>', 'shared secret clients send in hello (default: $TURNGYM_TOKEN); enables the trainer role')
    .option('--max-sessions <n>', 'sessions on the whole server', integer('--max-sessions', { min: 1 }), d.maxSessions)
    .option('--max-sessions-per-connection <n>', 'sessions per connection', integer('--max-sessions-per-connection', { min: 1 }), d.maxSessionsPerConnection)
    .option('--max-payload <bytes>', 'largest message accepted', integer('--max-payload', { min: 1024 }), d.maxPayload)
    .option('--max-in-flight <n>', 'requests served at once per connection before the server stops reading it', integer('--max-in-flight', { min: 1 }), d.maxInFlight)
    .option('--idle-timeout <ms>', 'close a session unused this long', integer('--idle-timeout', { min: 1 }), d.idleTimeoutMs)
    .option('--step-timeout <ms>', 'answer TIMEOUT and close the session when a reset or step takes longer', integer('--step-timeout', { min: 1 }), d.stepTimeoutMs)
    .option('--grace <ms>', 'how long a dropped connection\'s sessions wait for attach', integer('--grace', { min: 1 }), d.graceMs)
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .option('--workers <n>', 'server processes, on ports PORT..PORT+N-1 (one per core; limits apply per worker)', integer('--workers', { min: 1, max: 1024 }), 1)
    .action(async (options: ServeCommandOptions) => {
      const workerIndex = process.env[WORKER_INDEX_VARIABLE];
      if (options.workers > 1 && workerIndex === undefined) {
        await runWorkers(options.workers, options.port, (line) => console.error(`turngym serve: ${line}`));
        return;
      }
      const prefix = workerIndex === undefined ? 'turngym serve' : `turngym serve[${workerIndex}]`;
      await importModules(options.import);
      const server = await serve({
        host: options.host,
        port: workerIndex === undefined ? options.port : Number(process.env[WORKER_PORT_VARIABLE]),
        token: options.token ?? process.env.TURNGYM_TOKEN,
        maxSessions: options.maxSessions,
        maxSessionsPerConnection: options.maxSessionsPerConnection,
        maxPayload: options.maxPayload,
        maxInFlight: options.maxInFlight,
        idleTimeoutMs: options.idleTimeout,
        stepTimeoutMs: options.stepTimeout,
        graceMs: options.grace,
        log: (line) => console.error(`${prefix}: ${line}`),
      });
      const health = server.url.replace(/^ws:/, 'http:').replace(/\/v1$/, '/healthz');
      console.error(`${prefix}: listening on ${server.url} (health: ${health})`);
      process.send?.({ type: 'listening', url: server.url });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (why: string) => {
          if (stopping) return;
          stopping = true;
          console.error(`${prefix}: ${why}: shutting down`);
          server.close().then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
        // A worker whose supervisor is gone (killed) must not be left running on its own.
        process.once('disconnect', () => stop('the supervising process is gone'));
      });
      // The IPC channel would keep a worker's event loop alive after its server closed.
      if (process.connected) process.disconnect();
    });
}
