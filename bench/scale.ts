/**
 * `turngym bench scale`: what more server processes buy on this machine, and how fast a pool routes around
 * a dead one.
 *
 * - Aggregate steps/s of `puzzle/guess-number-v0` with 1, 2 and 4 server processes (`turngym serve
 *   --workers N`, a port range), driven by 2 client processes (bench/scale-load.ts), each with a
 *   `RemotePool` over the same endpoints and 32 sessions stepping as fast as replies come. The three
 *   configurations run in rotating order within each round, side by side; the figure is the median over
 *   rounds, with the ratio to 1 process. The CPU time every process used (from /proc) says where the cores
 *   went: on a machine with fewer cores than processes, more servers cannot add throughput.
 * - Failover: 2 separate `turngym serve` processes, one client process stepping 16 sessions over both; the
 *   main process kills one (SIGKILL: the TCP connection closes) or freezes it (SIGSTOP: nothing closes, only
 *   health checks notice, with the pool's default timings). Measured from the signal: when the pool marked the
 *   server down, and when the first and the last interrupted episode took a step on the other server.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { LoadMessage } from './scale-load.js';
import { median, round } from './stats.js';

export interface ScaleBenchOptions {
  /** Server process counts to compare. */
  servers?: number[];
  rounds?: number;
  /** Measured duration of each throughput run (ms). */
  durationMs?: number;
  /** Client processes generating load, and sessions each. */
  clients?: number;
  sessionsPerClient?: number;
  /** Skip the failover measurements (they start and kill extra servers). */
  skipFailover?: boolean;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXEC_ARGV = FROM_SOURCE ? ['--no-node-snapshot', '--import', 'tsx'] : ['--no-node-snapshot'];
const CLI = fileURLToPath(new URL(`../src/cli/main.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url));
/** The pool's default health-check timings (pool.ts), used for the frozen-server figure. */
const DEFAULT_HEALTH = { intervalMs: 1000, timeoutMs: 2000, failures: 2 };
const wallClock = () => performance.timeOrigin + performance.now();

interface Server {
  child: ChildProcess;
  urls: string[];
  pids: number[];
}

/** Starts `turngym serve --workers N --port 0` and resolves with every worker's URL and pid. */
async function startServer(workers: number): Promise<Server> {
  const args = [
    ...EXEC_ARGV,
    CLI,
    'serve',
    '--port',
    '0',
    '--max-sessions',
    '4096',
    '--max-in-flight',
    '1024',
    ...(workers > 1 ? ['--workers', String(workers)] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const urls = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turngym serve did not start:\n${stderr}`)), 120_000);
    child.on('exit', (code) => reject(new Error(`turngym serve exited (${code}):\n${stderr}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match =
        workers > 1
          ? /workers listening on (.+?) \(pool endpoints/.exec(stderr)
          : /listening on (ws:\/\/\S+) \(health/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.split(', '));
      }
    });
  });
  child.stderr!.resume();
  const pids = await Promise.all(
    urls.map(
      async (url) =>
        ((await (await fetch(url.replace(/^ws/, 'http').replace(/\/v1$/, '/healthz'))).json()) as { pid: number }).pid,
    ),
  );
  return { child, urls, pids };
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** A client load process: send it a task, get its answer. */
class LoadProcess {
  private constructor(readonly child: ChildProcess) {}

  static async start(): Promise<LoadProcess> {
    const file = fileURLToPath(new URL(`./scale-load.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url));
    const child = fork(file, [], { execArgv: EXEC_ARGV, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`bench load process exited (${code})`)));
    });
    return new LoadProcess(child);
  }

  /** Sends a task; `onReady` receives the `ready` message of a failover task. */
  run<T>(task: LoadMessage, onReady?: (ready: { sessions: number; onVictim: number }) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const listener = (message: { done?: T; error?: string; ready?: { sessions: number; onVictim: number } }) => {
        if (message.ready) return onReady?.(message.ready);
        this.child.off('message', listener);
        if (message.error !== undefined) reject(new Error(`bench load process: ${message.error}`));
        else resolve(message.done as T);
      };
      this.child.on('message', listener);
      this.child.send(task);
    });
  }

  stop(): void {
    if (this.child.connected) this.child.send({ kind: 'exit' } satisfies LoadMessage);
  }
}

/** CPU seconds (user + system) a process has used, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

export async function runScale(options: ScaleBenchOptions = {}) {
  const counts = options.servers ?? [1, 2, 4];
  const rounds = options.rounds ?? 3;
  const durationMs = options.durationMs ?? 3000;
  const clientCount = options.clients ?? 2;
  const sessionsPerClient = options.sessionsPerClient ?? 32;

  const servers = new Map<number, Server>();
  const loads: LoadProcess[] = [];
  try {
    for (const count of counts) servers.set(count, await startServer(count));
    for (let i = 0; i < clientCount; i++) loads.push(await LoadProcess.start());

    const rates = new Map<number, number[]>(counts.map((count) => [count, []]));
    const cpu = new Map<number, { servers: number[]; clients: number[] }>(
      counts.map((count) => [count, { servers: [], clients: [] }]),
    );
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so that no configuration always runs first (warm caches, turbo).
      const order = counts.map((_, i) => counts[(i + r) % counts.length]!);
      for (const count of order) {
        const server = servers.get(count)!;
        const serverCpu = server.pids.map(cpuSeconds);
        const clientCpu = loads.map((load) => cpuSeconds(load.child.pid));
        const results = await Promise.all(
          loads.map((load) =>
            load.run<{ steps: number; seconds: number }>({
              kind: 'throughput',
              endpoints: server.urls,
              sessions: sessionsPerClient,
              durationMs,
              warmupMs: 300,
            }),
          ),
        );
        const seconds = Math.max(...results.map((result) => result.seconds));
        rates.get(count)!.push(results.reduce((sum, result) => sum + result.steps, 0) / seconds);
        // CPU per wall second (cores busy), including the warm-up and the pool's setup.
        const wall = seconds + 0.3;
        cpu
          .get(count)!
          .servers.push(server.pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - serverCpu[i]!, 0) / wall);
        cpu
          .get(count)!
          .clients.push(loads.reduce((sum, load, i) => sum + cpuSeconds(load.child.pid) - clientCpu[i]!, 0) / wall);
      }
    }
    const baseline = median(rates.get(counts[0]!)!);
    const throughput = counts.map((count) => ({
      server_processes: count,
      steps_per_s: round(median(rates.get(count)!)),
      ratio_to_1: round(median(rates.get(count)!) / baseline, 3),
      rounds_steps_per_s: rates.get(count)!.map((rate) => round(rate)),
      server_cores_busy: round(median(cpu.get(count)!.servers), 3),
      client_cores_busy: round(median(cpu.get(count)!.clients), 3),
    }));
    for (const server of servers.values()) await stopServer(server);
    servers.clear();

    const failover = options.skipFailover
      ? undefined
      : {
          killed_sigkill: await measureFailover(loads[0]!, 'SIGKILL', DEFAULT_HEALTH),
          frozen_sigstop: await measureFailover(loads[0]!, 'SIGSTOP', DEFAULT_HEALTH),
        };
    return {
      benchmark: 'scale',
      env: 'puzzle/guess-number-v0',
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' },
      setup: `${clientCount} client processes x ${sessionsPerClient} sessions, each a RemotePool over every endpoint; servers: turngym serve --workers N (port range); ${rounds} rounds of ${durationMs} ms, rotating order`,
      throughput,
      ...(failover ? { failover } : {}),
    };
  } finally {
    for (const load of loads) load.stop();
    for (const server of servers.values()) server.child.kill('SIGKILL');
  }
}

/** Kills or freezes one of 2 servers under load and times how fast the pool goes on without it. */
async function measureFailover(load: LoadProcess, signal: 'SIGKILL' | 'SIGSTOP', health: typeof DEFAULT_HEALTH) {
  const pair = await Promise.all([startServer(1), startServer(1)]);
  const victim = pair[0]!;
  let signalledAt = 0;
  try {
    const result = await load.run<{
      down: number;
      firstMoved: number;
      lastMoved: number;
      moved: number;
      onVictim: number;
      failovers: number;
    }>(
      {
        kind: 'failover',
        endpoints: pair.flatMap((server) => server.urls),
        sessions: 16,
        victim: victim.urls[0]!,
        health,
      },
      () => {
        // Let the sessions step for a moment, then signal.
        setTimeout(() => {
          signalledAt = wallClock();
          victim.child.kill(signal);
        }, 300);
      },
    );
    return {
      signal,
      health_check:
        signal === 'SIGSTOP'
          ? { interval_ms: health.intervalMs, timeout_ms: health.timeoutMs, failures: health.failures }
          : 'not needed: the closed connection tells',
      sessions_on_victim: result.onVictim,
      episodes_moved: result.moved,
      marked_down_ms: round(result.down - signalledAt, 3),
      first_moved_step_ms: round(result.firstMoved - signalledAt, 3),
      last_moved_step_ms: round(result.lastMoved - signalledAt, 3),
    };
  } finally {
    for (const server of pair) server.child.kill('SIGKILL');
  }
}
