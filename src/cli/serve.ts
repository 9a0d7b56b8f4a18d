/**
 * `turngym serve`: hosts every registered env over the WebSocket protocol (ws://HOST:PORT/v1), with
 * GET /healthz on the same port. SIGTERM or SIGINT shuts it down gracefully: no new connections or
 * requests, in-flight steps finish, every env is closed. `--workers N` runs N such servers on ports
 * PORT..PORT+N-1 (see serve-workers.ts), each with the same flags.
 *
 * The token comes from `--token-file` or `--token` (visible in the process list), else `$TURNGYM_TOKEN`.
 * `--kwargs ENV=JSON` fixes an env's kwargs on the operator's side (paths, sandbox limits, sizes), which no
 * client may set or override; clients set only the kwargs `turngym list ID` marks `[remote]`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fileProblem } from '../core/errors.js';
import { DEFAULT_SERVE_OPTIONS, type RemoteServer, serve, type ServeOptions } from '../envs/remote/server.js';
import { collect, importModules, integer, isUsageError, jsonObject } from './common.js';
import { UsageError } from '../core/errors.js';
import { runWorkers, WORKER_INDEX_VARIABLE, WORKER_PORT_VARIABLE, type WorkerFailure } from './serve-workers.js';

interface ServeCommandOptions {
  host: string;
  port: number;
  token?: string;
  tokenFile?: string;
  kwargs: Record<string, Record<string, unknown>>;
  maxConnections: number;
  maxSessions: number;
  maxSessionsPerConnection: number;
  maxPayload: number;
  maxInFlight: number;
  maxBufferedBytes: number;
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
    .option('--token <token>', 'shared secret clients send in hello; enables the trainer role (visible in the process list: prefer --token-file or $TURNGYM_TOKEN)')
    .option('--token-file <path>', 'read the token from this file (its first line); default: $TURNGYM_TOKEN')
    .option(
      '--kwargs <env=json>',
      'fix an env\'s kwargs on the server, e.g. \'search/corpus-v0={"documents":"d.jsonl","questions":"q.jsonl"}\' (repeatable); clients cannot override them',
      envKwargs,
      {},
    )
    .option('--max-connections <n>', 'connections at once; more are refused (HTTP 503)', integer('--max-connections', { min: 1 }), d.maxConnections)
    .option('--max-sessions <n>', 'sessions on the whole server', integer('--max-sessions', { min: 1 }), d.maxSessions)
    .option('--max-sessions-per-connection <n>', 'sessions per connection', integer('--max-sessions-per-connection', { min: 1 }), d.maxSessionsPerConnection)
    .option('--max-payload <bytes>', 'largest message accepted', integer('--max-payload', { min: 1024 }), d.maxPayload)
    .option('--max-in-flight <n>', 'requests served at once per connection before the server stops reading it', integer('--max-in-flight', { min: 1 }), d.maxInFlight)
    .option(
      '--max-buffered-bytes <bytes>',
      'unread reply bytes per connection before the server stops reading it (4x: the connection is closed)',
      integer('--max-buffered-bytes', { min: 1024 }),
      d.maxBufferedBytes,
    )
    .option('--idle-timeout <ms>', 'close a session unused this long', integer('--idle-timeout', { min: 1 }), d.idleTimeoutMs)
    .option('--step-timeout <ms>', 'answer TIMEOUT and close the session when a reset or step takes longer', integer('--step-timeout', { min: 1 }), d.stepTimeoutMs)
    .option('--grace <ms>', 'how long a dropped connection\'s sessions wait for attach', integer('--grace', { min: 1 }), d.graceMs)
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .option('--workers <n>', 'server processes, on ports PORT..PORT+N-1 (one per core; limits apply per worker)', integer('--workers', { min: 1, max: 1024 }), 1)
    .action(async (options: ServeCommandOptions) => {
      const token = tokenOf(options);
      const workerIndex = process.env[WORKER_INDEX_VARIABLE];
      if (options.workers > 1 && workerIndex === undefined) {
        await runWorkers(options.workers, options.port, (line) => console.error(`turngym serve: ${line}`));
        return;
      }
      const prefix = workerIndex === undefined ? 'turngym serve' : `turngym serve[${workerIndex}]`;
      const server = await startServer(workerIndex, options.import, {
        host: options.host,
        port: workerIndex === undefined ? options.port : Number(process.env[WORKER_PORT_VARIABLE]),
        token,
        kwargs: options.kwargs,
        maxConnections: options.maxConnections,
        maxSessions: options.maxSessions,
        maxSessionsPerConnection: options.maxSessionsPerConnection,
        maxPayload: options.maxPayload,
        maxInFlight: options.maxInFlight,
        maxBufferedBytes: options.maxBufferedBytes,
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

/**
 * Imports the `--import` modules and starts the server. A worker hands a usage error (a port in use, a bad
 * flag) to its supervisor, which reports it once for all workers (serve-workers.ts), and exits with code 2.
 */
async function startServer(workerIndex: string | undefined, modules: string[], options: ServeOptions): Promise<RemoteServer> {
  try {
    await importModules(modules);
    return await serve(options);
  } catch (error) {
    if (workerIndex === undefined || !isUsageError(error) || !process.send) throw error;
    await new Promise((resolve) => process.send!({ type: 'failed', message: (error as Error).message } satisfies WorkerFailure, resolve));
    process.exit(2);
  }
}

/** The token: `--token` or the first line of `--token-file` (not both), else `$TURNGYM_TOKEN`. A bad file is a UsageError. */
function tokenOf(options: Pick<ServeCommandOptions, 'token' | 'tokenFile'>): string | undefined {
  if (options.token !== undefined && options.tokenFile !== undefined) throw new UsageError('--token and --token-file: give one of them.');
  if (options.tokenFile === undefined) return options.token ?? process.env.TURNGYM_TOKEN;
  let text: string;
  try {
    text = readFileSync(options.tokenFile, 'utf8');
  } catch (error) {
    throw new UsageError(`--token-file ${options.tokenFile}: ${fileProblem(error)}.`);
  }
  const token = text.split(/\r?\n/)[0]!.trim();
  if (token === '') throw new UsageError(`--token-file ${options.tokenFile}: the file is empty; put the token on its first line.`);
  return token;
}

/** Parses one `--kwargs ENV=JSON` into the map of operator kwargs per env id. */
function envKwargs(value: string, previous: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const split = value.indexOf('=');
  if (split <= 0) throw new UsageError(`--kwargs takes ENV=JSON, e.g. 'search/corpus-v0={"documents":"d.jsonl"}'; got '${value.slice(0, 80)}'.`);
  const id = value.slice(0, split);
  if (id in previous) throw new UsageError(`--kwargs ${id} is given twice: put all of its kwargs in one JSON object.`);
  return { ...previous, [id]: jsonObject(`--kwargs ${id}`)(value.slice(split + 1)) };
}
