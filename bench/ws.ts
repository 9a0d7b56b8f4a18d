/**
 * `turngym bench ws`: what the WebSocket protocol costs. The server runs in this thread; the clients run in a
 * worker thread (bench/ws-load.ts), so client and server have their own event loops, as they would in two
 * processes (on a 2-core machine they share the cores).
 *
 * - Per-step round trip: sequential steps of `puzzle/guess-number-v0` through `RemoteEnv` over loopback,
 *   against the same env made in-process (`make`), in alternating rounds; p50/p99 of each and the overhead.
 * - Aggregate steps/s with 64 sessions over 8 connections, each session stepping as fast as its replies come.
 * - Memory per idle session (made and reset, then left alone): the server's heap growth after a GC.
 */
import { Worker } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { serve } from '../src/envs/remote/server.js';
import '../src/envs/builtin.js';
import type { LoadTask } from './ws-load.js';
import { round } from './stats.js';

const ID = 'puzzle/guess-number-v0';

export interface WsBenchOptions {
  /** Steps per latency round. */
  steps?: number;
  rounds?: number;
  /** Duration of each throughput round (ms). */
  durationMs?: number;
  /** Sessions for the memory figure. */
  idleSessions?: number;
}

/** Runs a load task in a worker; `onReady` is called when an idle task holds its sessions. */
export function inWorker<T>(task: LoadTask, onReady?: (worker: Worker) => Promise<void>): Promise<T> {
  const ts = import.meta.url.endsWith('.ts');
  const file = new URL(`./ws-load.${ts ? 'ts' : 'js'}`, import.meta.url);
  // Run from source (tsx), the worker must register tsx itself before importing a .ts file.
  const worker = ts
    ? new Worker(
        `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(file.href)}); });`,
        { eval: true, workerData: task },
      )
    : new Worker(file, { workerData: task });
  return new Promise<T>((resolve, reject) => {
    worker.on('message', (message: { ready?: number; done?: T; error?: string }) => {
      if (message.ready !== undefined) void onReady?.(worker).then(() => worker.postMessage('release'));
      else if (message.error !== undefined) reject(new Error(`bench worker: ${message.error}`));
      else {
        resolve(message.done as T);
        void worker.terminate();
      }
    });
    worker.on('error', reject);
  });
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function runWs(options: WsBenchOptions = {}) {
  const steps = options.steps ?? 20_000;
  const rounds = options.rounds ?? 5;
  const durationMs = options.durationMs ?? 3000;
  const idleSessions = options.idleSessions ?? 1000;
  const server = await serve({ port: 0, maxSessions: Math.max(1024, idleSessions + 64), maxInFlight: 1024 });
  try {
    const latency = await inWorker<{
      in_process: { p50_ms: number; p99_ms: number };
      remote: { p50_ms: number; p99_ms: number };
    }>({
      kind: 'latency',
      url: server.url,
      env: ID,
      steps,
      rounds,
    });
    const throughput = await inWorker<{ steps_per_s: number; sessions: number }>({
      kind: 'throughput',
      url: server.url,
      env: ID,
      connections: 8,
      sessionsPerConnection: 8,
      durationMs,
      rounds,
    });
    collectGarbage();
    const before = process.memoryUsage();
    let heldHeap = 0;
    await inWorker({ kind: 'idle', url: server.url, env: ID, sessions: idleSessions }, async () => {
      collectGarbage();
      const held = process.memoryUsage();
      heldHeap = held.heapUsed - before.heapUsed;
    });
    return {
      benchmark: 'ws',
      env: ID,
      transport: 'WebSocket over loopback; server in the main thread, clients in a worker thread',
      latency: {
        steps_per_round: steps,
        rounds,
        in_process: { p50_ms: round(latency.in_process.p50_ms), p99_ms: round(latency.in_process.p99_ms) },
        remote: { p50_ms: round(latency.remote.p50_ms), p99_ms: round(latency.remote.p99_ms) },
        overhead_p50_ms: round(latency.remote.p50_ms - latency.in_process.p50_ms),
        overhead_p99_ms: round(latency.remote.p99_ms - latency.in_process.p99_ms),
        target_overhead_p50_ms: 0.2,
      },
      throughput: {
        connections: 8,
        sessions: throughput.sessions,
        round_ms: durationMs,
        steps_per_s: round(throughput.steps_per_s),
        target_steps_per_s: 10_000,
      },
      idle_sessions: {
        sessions: idleSessions,
        // Heap only: RSS moves by whole pages as the GC returns memory, too coarse for a per-session figure.
        server_heap_bytes_per_session: Math.round(heldHeap / idleSessions),
      },
    };
  } finally {
    await server.close();
  }
}
