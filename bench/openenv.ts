/**
 * `turngym bench openenv`: what OpenEnv's protocol costs against turngym's own. The same env
 * (`puzzle/guess-number-v0`) is served both ways from this thread, protocol v1 (`turngym serve`) and OpenEnv's
 * (`turngym serve --openenv`); the clients run in a worker thread (bench/ws-load.ts), as in `bench ws`.
 *
 * - Per-step round trip: sequential steps in-process (`make`), through `RemoteEnv` (v1) and through
 *   `make('openenv+http://...')` (OpenEnv's `/ws` session), in alternating rounds; p50/p99 and the overhead of each.
 * - Aggregate steps/s with 64 sessions: over 8 v1 connections, and over 64 OpenEnv connections (one session each,
 *   as OpenEnv has them).
 *
 * A Python OpenEnv server (openenv-core's) serving a trivial env would be the third column; openenv-core is not on
 * this machine's package index, so the figure says so instead of standing in something else for it.
 */
import { serveOpenEnv } from '../src/envs/remote/openenv-server.js';
import { serve } from '../src/envs/remote/server.js';
import '../src/envs/builtin.js';
import { round } from './stats.js';
import { inWorker } from './ws.js';

const ID = 'puzzle/guess-number-v0';

export interface OpenEnvBenchOptions {
  steps?: number;
  rounds?: number;
  durationMs?: number;
}

export async function runOpenEnvBench(options: OpenEnvBenchOptions = {}) {
  const steps = options.steps ?? 10_000;
  const rounds = options.rounds ?? 5;
  const durationMs = options.durationMs ?? 3000;
  const server = await serve({ port: 0, maxInFlight: 1024 });
  const openenv = await serveOpenEnv({ env: ID, port: 0, maxSessions: 128 });
  try {
    const latency = await inWorker<Record<'in_process' | 'remote' | 'openenv', { p50_ms: number; p99_ms: number }>>({
      kind: 'latency',
      url: server.url,
      openenv: openenv.url,
      env: ID,
      steps,
      rounds,
    });
    const load = {
      kind: 'throughput',
      url: server.url,
      env: ID,
      connections: 8,
      sessionsPerConnection: 8,
      durationMs,
      rounds,
    } as const;
    const v1 = await inWorker<{ steps_per_s: number; sessions: number }>(load);
    const overOpenEnv = await inWorker<{ steps_per_s: number; sessions: number }>({ ...load, openenv: openenv.url });
    const summary = (name: 'in_process' | 'remote' | 'openenv') => ({
      p50_ms: round(latency[name].p50_ms),
      p99_ms: round(latency[name].p99_ms),
      ...(name === 'in_process'
        ? {}
        : {
            overhead_p50_ms: round(latency[name].p50_ms - latency.in_process.p50_ms),
            overhead_p99_ms: round(latency[name].p99_ms - latency.in_process.p99_ms),
          }),
    });
    return {
      benchmark: 'openenv',
      env: ID,
      transport: 'WebSocket over loopback; servers in the main thread, clients in a worker thread',
      latency: {
        steps_per_round: steps,
        rounds,
        in_process: summary('in_process'),
        protocol_v1: summary('remote'),
        openenv: summary('openenv'),
        openenv_over_v1_p50: round(latency.openenv.p50_ms / latency.remote.p50_ms),
      },
      throughput: {
        sessions: v1.sessions,
        round_ms: durationMs,
        protocol_v1: { connections: 8, steps_per_s: round(v1.steps_per_s) },
        openenv: { connections: overOpenEnv.sessions, steps_per_s: round(overOpenEnv.steps_per_s) },
        openenv_over_v1: round(overOpenEnv.steps_per_s / v1.steps_per_s),
      },
      python_openenv: {
        measured: false,
        why: "openenv-core (OpenEnv's Python server) is not on this machine's package index (only its dependencies are), so there is no Python OpenEnv server here to measure",
      },
    };
  } finally {
    await Promise.all([server.close(), openenv.close()]);
  }
}
