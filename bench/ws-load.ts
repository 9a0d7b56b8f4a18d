/**
 * The client side of `turngym bench ws`, run in a worker thread so that client and server do not share an
 * event loop. Told what to do through `workerData`, it posts one result message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RemoteClient } from '../src/envs/remote/client.js';
import type { Env } from '../src/envs/env.js';
import { make } from '../src/envs/registry.js';
import '../src/envs/builtin.js';
import { latencies, latencySummary, median, now } from './stats.js';

/**
 * What a worker does. `openenv` (bench openenv): the base URL of the same env behind turngym's OpenEnv server;
 * latency then also steps it (alternating with the others), and throughput steps only it, one session per
 * connection as OpenEnv has them.
 */
export type LoadTask =
  | { kind: 'latency'; url: string; env: string; steps: number; rounds: number; openenv?: string }
  | {
      kind: 'throughput';
      url: string;
      env: string;
      connections: number;
      sessionsPerConnection: number;
      durationMs: number;
      rounds: number;
      openenv?: string;
    }
  | { kind: 'idle'; url: string; env: string; sessions: number };

const GUESSES = Array.from({ length: 32 }, (_, i) => ({ tool: 'guess', args: { n: i + 1 } }));

/** `count` sequential steps, resetting when an episode ends; returns per-step latencies (ms). */
async function stepLatencies(env: Env, count: number): Promise<number[]> {
  let seed = 0;
  await env.reset({ seed: seed++, options: { maxTurns: 1000 } });
  let ended = false;
  return latencies(count, async (index) => {
    if (ended) {
      await env.reset({ seed: seed++, options: { maxTurns: 1000 } });
      ended = false;
    }
    const result = await env.step(GUESSES[(index * 7) % 32]!);
    ended = result.terminated || result.truncated;
  });
}

async function latency(task: Extract<LoadTask, { kind: 'latency' }>) {
  const client = await RemoteClient.connect(task.url);
  const envs: Record<string, Env> = { in_process: await make(task.env), remote: await client.make(task.env) };
  if (task.openenv) envs.openenv = await make(`openenv+${task.openenv}`);
  for (const env of Object.values(envs)) await stepLatencies(env, 2000); // warm-up (JIT)
  const rounds: Record<string, ReturnType<typeof latencySummary>[]> = {};
  for (let round = 0; round < task.rounds; round++)
    for (const [name, env] of Object.entries(envs))
      (rounds[name] ??= []).push(latencySummary(await stepLatencies(env, task.steps)));
  await Promise.all([...Object.values(envs).map((env) => env.close()), client.close()]);
  const pick = (name: string) => ({
    p50_ms: median(rounds[name]!.map((summary) => summary.p50_ms)),
    p99_ms: median(rounds[name]!.map((summary) => summary.p99_ms)),
  });
  return Object.fromEntries(Object.keys(envs).map((name) => [name, pick(name)])) as Record<
    'in_process' | 'remote' | 'openenv',
    { p50_ms: number; p99_ms: number }
  >;
}

async function throughput(task: Extract<LoadTask, { kind: 'throughput' }>) {
  const clients = task.openenv
    ? []
    : await Promise.all(Array.from({ length: task.connections }, () => RemoteClient.connect(task.url)));
  const envs: Env[] = task.openenv
    ? await Promise.all(
        Array.from({ length: task.connections * task.sessionsPerConnection }, () => make(`openenv+${task.openenv}`)),
      )
    : (
        await Promise.all(
          clients.map((client) =>
            Promise.all(Array.from({ length: task.sessionsPerConnection }, () => client.make(task.env))),
          ),
        )
      ).flat();
  const rates: number[] = [];
  for (let round = 0; round < task.rounds + 1; round++) {
    let steps = 0;
    const deadline = now() + task.durationMs;
    const start = now();
    await Promise.all(
      envs.map(async (env, index) => {
        let seed = index * 1_000_000 + round * 10_000;
        await env.reset({ seed: seed++ });
        for (let i = index; now() < deadline; i++) {
          const result = await env.step(GUESSES[(i * 7) % 32]!);
          steps++;
          if (result.terminated || result.truncated) await env.reset({ seed: seed++ });
        }
      }),
    );
    if (round > 0) rates.push((steps / (now() - start)) * 1000); // round 0 warms up
  }
  if (task.openenv) await Promise.all(envs.map((env) => env.close()));
  await Promise.all(clients.map((client) => client.close()));
  return { steps_per_s: median(rates), sessions: envs.length };
}

async function idle(task: Extract<LoadTask, { kind: 'idle' }>) {
  const perConnection = 64;
  const clients = await Promise.all(
    Array.from({ length: Math.ceil(task.sessions / perConnection) }, () => RemoteClient.connect(task.url)),
  );
  const envs = (
    await Promise.all(
      clients.map((client, index) =>
        Promise.all(
          Array.from({ length: Math.min(perConnection, task.sessions - index * perConnection) }, () =>
            client.make(task.env),
          ),
        ),
      ),
    )
  ).flat();
  await Promise.all(envs.map((env, index) => env.reset({ seed: index })));
  parentPort!.postMessage({ ready: envs.length });
  await new Promise((resolve) => parentPort!.once('message', resolve));
  await Promise.all(clients.map((client) => client.close()));
  return { sessions: envs.length };
}

const task = workerData as LoadTask;
const run = task.kind === 'latency' ? latency(task) : task.kind === 'throughput' ? throughput(task) : idle(task);
run.then(
  (result) => parentPort!.postMessage({ done: result }),
  (error: unknown) =>
    parentPort!.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
);
