/**
 * The client side of `turngym bench scale`, run as a separate process (forked, IPC) so that client load has
 * its own process as it would next to a trainer. Told what to do by messages, it answers each with one.
 *
 * - `throughput`: a pool over the endpoints, `sessions` envs stepping `puzzle/guess-number-v0` as fast as
 *   replies come for `durationMs` (after a warm-up); answers the steps counted.
 * - `failover`: a pool over the endpoints, `sessions` envs stepping without pause; answers `ready` with the
 *   sessions per endpoint, then, after the main process killed or froze a server, the wall-clock times
 *   (ms since the epoch, sub-millisecond) at which the pool marked it down, and at which the first and the
 *   last interrupted episode went on elsewhere.
 */
import { RemotePool } from '../src/envs/remote/pool.js';
import type { PooledEnv } from '../src/envs/remote/pool.js';
import { now } from './stats.js';

export type LoadMessage =
  | { kind: 'throughput'; endpoints: string[]; sessions: number; durationMs: number; warmupMs: number }
  | {
      kind: 'failover';
      endpoints: string[];
      sessions: number;
      victim: string;
      health: { intervalMs: number; timeoutMs: number; failures: number };
    }
  | { kind: 'exit' };

const ENV = 'puzzle/guess-number-v0';
const GUESSES = Array.from({ length: 64 }, (_, i) => `guess(${i + 1})`);
/** Wall-clock milliseconds, comparable across processes on one machine. */
const wallClock = () => performance.timeOrigin + performance.now();

/** Steps `env` until `until()` says stop; returns the steps taken. */
async function stepLoop(
  env: PooledEnv,
  index: number,
  until: () => boolean,
  onStep: () => void = () => {},
): Promise<number> {
  let seed = index * 1_000_003;
  let steps = 0;
  await env.reset({ seed: seed++, options: { maxTurns: 16 } });
  for (let i = index; !until(); i++) {
    const result = await env.step(GUESSES[(i * 7) % 64]!);
    steps++;
    onStep();
    if (result.terminated || result.truncated) await env.reset({ seed: seed++, options: { maxTurns: 16 } });
  }
  return steps;
}

async function throughput(task: Extract<LoadMessage, { kind: 'throughput' }>) {
  const pool = await RemotePool.connect(task.endpoints, { maxFailovers: 0 });
  try {
    const envs = await Promise.all(Array.from({ length: task.sessions }, () => pool.make(ENV)));
    const warmEnd = now() + task.warmupMs;
    await Promise.all(envs.map((env, index) => stepLoop(env, index, () => now() >= warmEnd)));
    const start = now();
    const end = start + task.durationMs;
    const counts = await Promise.all(
      envs.map((env, index) => stepLoop(env, index + task.sessions, () => now() >= end)),
    );
    return { steps: counts.reduce((sum, count) => sum + count, 0), seconds: (now() - start) / 1000 };
  } finally {
    await pool.close();
  }
}

async function failover(task: Extract<LoadMessage, { kind: 'failover' }>) {
  const times = { down: 0, firstMoved: 0, lastMoved: 0 };
  let moved = 0;
  const pool = await RemotePool.connect(task.endpoints, {
    healthIntervalMs: task.health.intervalMs,
    healthTimeoutMs: task.health.timeoutMs,
    healthFailures: task.health.failures,
    log: (line) => {
      if (line.includes(' is down ') && times.down === 0) times.down = wallClock();
    },
  });
  try {
    const envs = await Promise.all(Array.from({ length: task.sessions }, () => pool.make(ENV)));
    const interrupted = envs.filter((env) => env.endpoint === task.victim);
    const counted = new Set<PooledEnv>();
    let stop = false;
    const loops = envs.map((env, index) =>
      stepLoop(
        env,
        index,
        () => stop,
        () => {
          // The first step after an env moved is the one that went on elsewhere.
          if (interrupted.includes(env) && env.failovers > 0 && !counted.has(env)) {
            counted.add(env);
            moved++;
            const at = wallClock();
            if (times.firstMoved === 0) times.firstMoved = at;
            times.lastMoved = at;
          }
        },
      ),
    );
    process.send!({ ready: { sessions: envs.length, onVictim: interrupted.length } });
    const deadline = now() + 60_000;
    while (moved < interrupted.length && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    stop = true;
    await Promise.allSettled(loops);
    return {
      ...times,
      moved,
      onVictim: interrupted.length,
      failovers: envs.reduce((sum, env) => sum + env.failovers, 0),
    };
  } finally {
    await pool.close();
  }
}

process.on('message', (message: LoadMessage) => {
  if (message.kind === 'exit') {
    process.disconnect();
    return;
  }
  const work = message.kind === 'throughput' ? throughput(message) : failover(message);
  work.then(
    (result) => process.send!({ done: result }),
    (error: unknown) =>
      process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.send!({ started: true });
