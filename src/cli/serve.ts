/**
 * `turngym serve`: hosts every registered env over the WebSocket protocol (ws://HOST:PORT/v1), with
 * GET /healthz on the same port; or, with `--openenv ENV_ID`, that one env with OpenEnv's protocol
 * (openenv-server.ts). SIGTERM or SIGINT shuts it down gracefully: no new connections or
 * requests, in-flight steps finish, every env is closed. `--workers N` runs N such servers on ports
 * PORT..PORT+N-1 (see serve-workers.ts), each with the same flags.
 *
 * The token comes from `--token-file` or `--token` (visible in the process list), else `$TURNGYM_TOKEN`.
 * `--kwargs ENV=JSON` fixes an env's kwargs on the operator's side (paths, sandbox limits, sizes), which no
 * client may set or override; clients set only the kwargs `turngym list ID` marks `[remote]`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { fileProblem, UsageError } from '../core/errors.js';
import { DEFAULT_OPENENV_OPTIONS, serveOpenEnv } from '../envs/remote/openenv-server.js';
import { DEFAULT_SERVE_OPTIONS, type RemoteServer, serve, type ServeOptions } from '../envs/remote/server.js';
import { importModules, isUsageError, jsonObject } from './common.js';
import { addSchemaOptions, FLAGS, parseFlags } from './options.js';
import { runWorkers, WORKER_INDEX_VARIABLE, WORKER_PORT_VARIABLE, type WorkerFailure } from './serve-workers.js';

const d = DEFAULT_SERVE_OPTIONS;
const atLeast = (min: number) => z.number().int().min(min);
const serveFlagsSchema = z
  .object({
    host: z
      .string()
      .default(d.host)
      .describe('Interface to bind; anything but loopback needs --token')
      .meta({ placeholder: 'host' }),
    port: atLeast(0).max(65535).default(d.port).describe('TCP port (0: any free port)').meta({ placeholder: 'port' }),
    token: z
      .string()
      .optional()
      .describe(
        'Shared secret clients send in hello; enables the trainer role (visible in the process list: prefer --token-file or $TURNGYM_TOKEN)',
      )
      .meta({ placeholder: 'token' }),
    tokenFile: z
      .string()
      .optional()
      .describe('Read the token from this file (its first line); default: $TURNGYM_TOKEN')
      .meta({ placeholder: 'path' }),
    kwargs: z
      .array(z.string())
      .default([])
      .transform(operatorKwargs)
      .describe(
        'Fix an env\'s kwargs on the server, e.g. \'search/corpus-v0={"documents":"d.jsonl","questions":"q.jsonl"}\' (repeatable); clients cannot override them',
      )
      .meta({ placeholder: 'env=json', repeatable: true }),
    maxConnections: atLeast(1).default(d.maxConnections).describe('Connections at once; more are refused (HTTP 503)'),
    maxSessions: atLeast(1)
      .optional()
      .describe(
        `Sessions on the whole server (default ${d.maxSessions}; with --openenv ${DEFAULT_OPENENV_OPTIONS.maxSessions}, its max_concurrent_envs)`,
      ),
    maxSessionsPerConnection: atLeast(1).default(d.maxSessionsPerConnection).describe('Sessions per connection'),
    maxPayload: atLeast(1024).default(d.maxPayload).describe('Largest message accepted').meta({ placeholder: 'bytes' }),
    maxInFlight: atLeast(1)
      .default(d.maxInFlight)
      .describe(
        'Requests served at once per connection before the server stops reading it (with --openenv: messages a session may send ahead)',
      ),
    maxBufferedBytes: atLeast(1024)
      .default(d.maxBufferedBytes)
      .describe('Unread reply bytes per connection before the server stops reading it (4x: the connection is closed)')
      .meta({ placeholder: 'bytes' }),
    idleTimeout: atLeast(1)
      .default(d.idleTimeoutMs)
      .describe('Close a session unused this long')
      .meta({ placeholder: 'ms' }),
    stepTimeout: atLeast(1)
      .default(d.stepTimeoutMs)
      .describe('Answer TIMEOUT and close the session when a reset or step takes longer')
      .meta({ placeholder: 'ms' }),
    grace: atLeast(1)
      .default(d.graceMs)
      .describe("How long a dropped connection's sessions wait for attach")
      .meta({ placeholder: 'ms' }),
    openenv: z
      .string()
      .optional()
      .describe(
        "Serve this one env with OpenEnv's protocol instead (HTTP /health /metadata /schema /state /reset /step and WebSocket sessions at /ws; docs/openenv.md)",
      )
      .meta({ placeholder: 'env' }),
    import: FLAGS.import,
    workers: atLeast(1)
      .max(1024)
      .default(1)
      .describe('Server processes, on ports PORT..PORT+N-1 (one per core; limits apply per worker)'),
  })
  .strict()
  .superRefine(({ token, tokenFile, port, workers, openenv, kwargs }, context) => {
    if (token !== undefined && tokenFile !== undefined)
      context.addIssue({ code: 'custom', message: '--token and --token-file: give one of them' });
    if (openenv !== undefined && workers > 1)
      context.addIssue({
        code: 'custom',
        message:
          '--openenv serves one env in one process (as OpenEnv does): leave out --workers, and run more servers on other ports',
      });
    const others = Object.keys(kwargs).filter((id) => id !== openenv);
    if (openenv !== undefined && others.length > 0)
      context.addIssue({
        code: 'custom',
        message: `--openenv ${openenv} serves that env only; --kwargs names ${others.join(', ')}: give --kwargs '${openenv}=JSON'`,
      });
    if (port !== 0 && port + workers - 1 > 65535) {
      context.addIssue({
        code: 'custom',
        message: `--port ${port} with --workers ${workers} needs ports up to ${port + workers - 1}, beyond 65535`,
      });
    }
  });

export function serveCommand(program: Command): void {
  const command = program
    .command('serve')
    .description(
      "serve the registered envs over WebSocket (protocol v1 at ws://HOST:PORT/v1; GET /healthz), or one env with OpenEnv's protocol (--openenv)",
    );
  addSchemaOptions(command, serveFlagsSchema).action(async (flags: Record<string, unknown>) => {
    const {
      token,
      tokenFile,
      import: modules,
      workers,
      idleTimeout,
      stepTimeout,
      grace,
      openenv,
      maxSessions,
      ...options
    } = parseFlags(flags, serveFlagsSchema);
    if (openenv !== undefined) {
      await importModules(modules);
      const server = await serveOpenEnv({
        env: openenv,
        kwargs: options.kwargs[openenv],
        host: options.host,
        port: options.port,
        token: tokenOf(token, tokenFile),
        maxSessions,
        maxPayload: options.maxPayload,
        maxQueued: options.maxInFlight,
        maxBufferedBytes: options.maxBufferedBytes,
        sessionTimeoutMs: idleTimeout,
        stepTimeoutMs: stepTimeout,
        log: (line) => console.error(`turngym serve: ${line}`),
      });
      console.error(
        `turngym serve: listening on ${server.url} (${openenv} with OpenEnv's protocol; sessions at ${server.url.replace(/^http/, 'ws')}/ws, health at ${server.url}/health)`,
      );
      await untilSignalled('turngym serve', () => server.close());
      return;
    }
    const workerIndex = process.env[WORKER_INDEX_VARIABLE];
    if (workers > 1 && workerIndex === undefined) {
      await runWorkers(workers, options.port, (line) => console.error(`turngym serve: ${line}`));
      return;
    }
    const prefix = workerIndex === undefined ? 'turngym serve' : `turngym serve[${workerIndex}]`;
    const server = await startServer(workerIndex, modules, {
      ...options,
      maxSessions: maxSessions ?? d.maxSessions,
      port: workerIndex === undefined ? options.port : Number(process.env[WORKER_PORT_VARIABLE]),
      token: tokenOf(token, tokenFile),
      idleTimeoutMs: idleTimeout,
      stepTimeoutMs: stepTimeout,
      graceMs: grace,
      log: (line) => console.error(`${prefix}: ${line}`),
    });
    const health = server.url.replace(/^ws:/, 'http:').replace(/\/v1$/, '/healthz');
    console.error(`${prefix}: listening on ${server.url} (health: ${health})`);
    process.send?.({ type: 'listening', url: server.url });
    await untilSignalled(prefix, () => server.close());
    // The IPC channel would keep a worker's event loop alive after its server closed.
    if (process.connected) process.disconnect();
  });
}

/** Waits for SIGTERM or SIGINT (or a worker's supervisor going away), then shuts the server down gracefully. */
function untilSignalled(prefix: string, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      console.error(`${prefix}: ${why}: shutting down`);
      close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // A worker whose supervisor is gone (killed) must not be left running on its own.
    process.once('disconnect', () => stop('the supervising process is gone'));
  });
}

/**
 * Imports the `--import` modules and starts the server. A worker hands a usage error (a port in use, a bad
 * flag) to its supervisor, which reports it once for all workers (serve-workers.ts), and exits with code 2.
 */
async function startServer(
  workerIndex: string | undefined,
  modules: string[],
  options: ServeOptions,
): Promise<RemoteServer> {
  try {
    await importModules(modules);
    return await serve(options);
  } catch (error) {
    if (workerIndex === undefined || !isUsageError(error) || !process.send) throw error;
    await new Promise((resolve) =>
      process.send!({ type: 'failed', message: (error as Error).message } satisfies WorkerFailure, resolve),
    );
    process.exit(2);
  }
}

/** The token: `--token` or the first line of `--token-file`, else `$TURNGYM_TOKEN`. A bad file is a UsageError. */
function tokenOf(token: string | undefined, file: string | undefined): string | undefined {
  if (file === undefined) return token ?? process.env.TURNGYM_TOKEN;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--token-file ${file}: ${fileProblem(error)}.`);
  }
  const line = text.split(/\r?\n/)[0]!.trim();
  if (line === '') throw new UsageError(`--token-file ${file}: the file is empty; put the token on its first line.`);
  return line;
}

/** Each `--kwargs ENV=JSON` given, as the map of operator kwargs per env id. */
function operatorKwargs(given: string[]): Record<string, Record<string, unknown>> {
  const kwargs: Record<string, Record<string, unknown>> = {};
  for (const value of given) {
    const split = value.indexOf('=');
    if (split <= 0)
      throw new UsageError(
        `--kwargs takes ENV=JSON, e.g. 'search/corpus-v0={"documents":"d.jsonl"}'; got '${value.slice(0, 80)}'.`,
      );
    const id = value.slice(0, split);
    if (id in kwargs) throw new UsageError(`--kwargs ${id} is given twice: put all of its kwargs in one JSON object.`);
    kwargs[id] = jsonObject(`--kwargs ${id}`)(value.slice(split + 1));
  }
  return kwargs;
}
