/**
 * `turngym serve --workers N`: N env server processes on one machine, worker i on port PORT+i (a port range;
 * with `--port 0` each worker takes any free port). Each worker is an ordinary `turngym serve` with the same
 * flags and limits (the limits are per worker), its own `/healthz`, and its own sessions.
 *
 * Why a port range and not one shared port (node:cluster): a session lives in one process, so every
 * connection that touches it must reach that process. Behind one shared port the kernel or the cluster
 * primary picks the process per connection, so a client that reconnects and `attach`es lands on a random
 * worker and loses its session, and `/healthz` answers for a random worker. With a port range every worker is
 * an endpoint a pool can pin sessions to and health-check (`RemotePool` takes `HOST:8765-8768`).
 *
 * The primary only supervises: it starts the workers, restarts one that dies after it was listening, and on
 * SIGTERM or SIGINT asks every worker to shut down gracefully and waits for all of them. A worker whose
 * primary is gone (killed) shuts itself down.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { TurngymError, UsageError } from '../core/errors.js';

/** Set in a worker's environment: its index. */
export const WORKER_INDEX_VARIABLE = 'TURNGYM_SERVE_WORKER';
/** Set in a worker's environment: the port it must bind (0: any). */
export const WORKER_PORT_VARIABLE = 'TURNGYM_SERVE_WORKER_PORT';

/** What a worker that cannot start sends its supervisor (over IPC) before it exits with code 2: the usage error's message. */
export interface WorkerFailure {
  type: 'failed';
  message: string;
}

/** Delay before a crashed worker is started again (so that a crash loop does not spin). */
const RESTART_DELAY_MS = 500;

interface Worker {
  index: number;
  port: number;
  child: ChildProcess | undefined;
  url: string | undefined;
}

/** Runs `count` workers until SIGTERM/SIGINT (ports PORT..PORT+count-1 below 65536: the serve flags' rule); resolves when every worker has exited. */
export async function runWorkers(count: number, basePort: number, log: (line: string) => void): Promise<void> {
  const workers: Worker[] = Array.from({ length: count }, (_, index) => ({
    index,
    port: basePort === 0 ? 0 : basePort + index,
    child: undefined,
    url: undefined,
  }));
  let stopping = false;
  let announced = false;
  let failure: Error | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`${why}: shutting down ${workers.filter((worker) => worker.child).length} worker(s)`);
    for (const worker of workers) worker.child?.kill('SIGTERM');
    if (workers.every((worker) => !worker.child)) finish();
  };

  const start = (worker: Worker) => {
    const child = fork(process.argv[1]!, process.argv.slice(2), {
      env: {
        ...process.env,
        [WORKER_INDEX_VARIABLE]: String(worker.index),
        [WORKER_PORT_VARIABLE]: String(worker.port),
      },
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    worker.child = child;
    let listened = false;
    let problem: string | undefined;
    child.on('message', (message: { type?: string; url?: string; message?: string }) => {
      if (message?.type === 'failed' && typeof message.message === 'string') problem = message.message;
      if (message?.type !== 'listening' || typeof message.url !== 'string') return;
      listened = true;
      worker.url = message.url;
      worker.port = Number(new URL(message.url).port); // a restart binds the same port
      if (!announced && workers.every((candidate) => candidate.url)) {
        announced = true;
        const urls = workers.map((candidate) => candidate.url!);
        log(
          `${count} workers listening on ${urls.join(', ')} (pool endpoints: ${poolEndpoint(urls)}; health: /healthz on each)`,
        );
      }
    });
    child.on('exit', (code, signal) => {
      worker.child = undefined;
      if (stopping) {
        if (code !== 0) log(`worker ${worker.index} exited with ${signal ?? `code ${code}`}`);
        if (workers.every((candidate) => !candidate.child)) finish();
        return;
      }
      if (!listened) {
        const message =
          problem === undefined
            ? `worker ${worker.index} exited with ${signal ?? `code ${code}`} before it was listening (see its message above).`
            : `worker ${worker.index} could not start: ${problem}`;
        // Exit code 2 is a bad command line, the same in every worker: report it as one.
        failure ??= code === 2 ? new UsageError(message) : new TurngymError('ENV_FAILURE', message);
        stopAll(`worker ${worker.index} failed to start`);
        return;
      }
      log(
        `worker ${worker.index} (${worker.url}) exited with ${signal ?? `code ${code}`}; starting it again on port ${worker.port}`,
      );
      setTimeout(() => {
        if (!stopping) start(worker);
      }, RESTART_DELAY_MS);
    });
  };

  process.once('SIGTERM', () => stopAll('SIGTERM'));
  process.once('SIGINT', () => stopAll('SIGINT'));
  for (const worker of workers) start(worker);
  await finished;
  if (failure) throw failure;
  log(`all ${count} workers shut down`);
}

/** One endpoint string for a pool: a port range when the ports are consecutive on one host, else a list. */
function poolEndpoint(urls: readonly string[]): string {
  const parsed = urls.map((url) => new URL(url));
  const ports = parsed.map((url) => Number(url.port));
  const consecutive = parsed.every((url, i) => url.hostname === parsed[0]!.hostname && ports[i] === ports[0]! + i);
  if (consecutive && urls.length > 1)
    return `ws://${parsed[0]!.host.replace(/:\d+$/, '')}:${ports[0]}-${ports[ports.length - 1]}/v1`;
  return urls.join(',');
}
