import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionLostError, RemoteClient } from '../../../src/envs/remote/client.js';
import { parseEndpoints, type PooledEnv, RemotePool } from '../../../src/envs/remote/pool.js';
import { describeTools } from '../../../src/envs/actions.js';
import '../../../src/envs/builtin.js';
import { checkEnv } from '../../../src/envs/check.js';
import type { Env, StepResult } from '../../../src/envs/env.js';
import { TurngymError } from '../../../src/core/errors.js';
import { make } from '../../../src/envs/registry.js';
import {
  createNetworkNamespace,
  eventually,
  health,
  killAll,
  type NetworkNamespace,
  networkNamespacesAvailable,
  type ServerProcess,
  serversForSuite,
  startServer,
  TOKEN,
} from './servers.js';

const ID = 'puzzle/guess-number-v0';

describe('parseEndpoints', () => {
  it('accepts full URLs, HOST:PORT and port ranges, and drops duplicates', () => {
    expect(
      parseEndpoints(['ws://10.0.0.5:8765/v1', 'ws://10.0.0.5:8765', '10.0.0.6:9000', 'wss://envs.example.com:443/v1']),
    ).toEqual(['ws://10.0.0.5:8765/v1', 'ws://10.0.0.6:9000/v1', 'wss://envs.example.com:443/v1']);
    expect(parseEndpoints(['127.0.0.1:8765-8767,[::1]:9000'])).toEqual([
      'ws://127.0.0.1:8765/v1',
      'ws://127.0.0.1:8766/v1',
      'ws://127.0.0.1:8767/v1',
      'ws://[::1]:9000/v1',
    ]);
  });

  it('says what an endpoint must look like', () => {
    expect(() => parseEndpoints(['http://x:1/healthz'])).toThrow(
      "'http://x:1/healthz' is not an env server endpoint: write ws://HOST:PORT/v1, HOST:PORT, or a port range HOST:8765-8768.",
    );
    expect(() => parseEndpoints(['x:9000-8000'])).toThrow(
      "'x:9000-8000': ports must be 1-65535, and a range FIRST-LAST must have FIRST <= LAST and at most 1024 ports.",
    );
    expect(() => parseEndpoints([' , '])).toThrow('The pool needs at least one env server endpoint.');
  });
});

describe('RemotePool', () => {
  const { servers, urls } = serversForSuite(3);

  it('spreads new sessions over the endpoints by load and pins each to its server', async () => {
    const pool = await RemotePool.connect(urls, { token: TOKEN });
    try {
      const envs = await Promise.all(Array.from({ length: 6 }, () => pool.make(ID)));
      expect(pool.status().map((endpoint) => endpoint.sessions)).toEqual([2, 2, 2]);
      for (const url of urls) expect(await health(url)).toMatchObject({ status: 'ok', sessions: 2 });
      // Pinned: an env's requests go to the server that holds its session.
      const env = envs[0]!;
      const endpoint = env.endpoint!;
      await env.reset({ seed: 3 });
      await env.step('guess(1)');
      expect(env.endpoint).toBe(endpoint);
      // Freed room is filled first.
      const onFirst = envs.filter((candidate) => candidate.endpoint === urls[0]);
      await Promise.all(onFirst.map((candidate) => candidate.close()));
      expect(pool.status().map((status) => status.sessions)).toEqual([0, 2, 2]);
      const refill = await Promise.all([pool.make(ID), pool.make(ID)]);
      expect(refill.map((candidate) => candidate.endpoint)).toEqual([urls[0], urls[0]]);
    } finally {
      await pool.close();
    }
    for (const url of urls) expect(await health(url)).toMatchObject({ sessions: 0 });
  });

  it('counts the sessions of other clients, from /healthz, as load', async () => {
    const other = await RemoteClient.connect(urls[1]!, { token: TOKEN });
    await Promise.all(Array.from({ length: 4 }, () => other.make(ID)));
    const pool = await RemotePool.connect(urls, { token: TOKEN });
    try {
      const envs = await Promise.all(Array.from({ length: 4 }, () => pool.make(ID)));
      expect(envs.filter((env) => env.endpoint === urls[1]).length).toBe(0);
      expect(pool.status().map((status) => status.serverSessions)).toEqual([0, 4, 0]);
    } finally {
      await pool.close();
      await other.close();
    }
  });

  it('makes envs that pass checkEnv', async () => {
    const pool = await RemotePool.connect(urls, { token: TOKEN });
    try {
      const report = await checkEnv(await pool.make(ID, { difficulty: 3 }));
      expect(report.failures).toEqual([]);
      expect(report.passed).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('keeps tool descriptions and the answer tool across the wire (the trainer renders them)', async () => {
    const pool = await RemotePool.connect(urls, { token: TOKEN });
    const local = await make(ID);
    try {
      const remote = await pool.make(ID);
      expect(describeTools(remote.spec.tools)).toBe(describeTools(local.spec.tools));
      expect(remote.spec.answerTool).toBe('guess');
      expect(remote.spec.deterministic).toBe(true);
    } finally {
      await Promise.all([pool.close(), local.close()]);
    }
  });

  it('fetches the ground truth at reset for the trainer role, and never for an agent', async () => {
    const trainer = await RemotePool.connect(urls, { token: TOKEN, groundTruth: true });
    const agent = await RemotePool.connect(urls, { token: TOKEN });
    const local = await make(ID, { difficulty: 6 });
    try {
      const env = await trainer.make(ID, { difficulty: 6 });
      expect(() => env.groundTruth()).toThrow(`Cannot step '${ID}' before reset(): call reset() to start an episode.`);
      for (const seed of [1, 2, 3]) {
        await Promise.all([env.reset({ seed }), local.reset({ seed })]);
        expect(env.groundTruth()).toBe(local.groundTruth!());
      }
      const plain = await agent.make(ID);
      await plain.reset({ seed: 1 });
      expect(() => plain.groundTruth()).toThrow(
        `Ground truth of ${ID} was not fetched: connect the pool with groundTruth: true (trainer role, with the servers' token).`,
      );
      await expect(RemotePool.connect(urls, { role: 'agent', groundTruth: true })).rejects.toThrow(
        "groundTruth needs the trainer role (and the servers' token): an agent may never read ground truth.",
      );
    } finally {
      await Promise.all([trainer.close(), agent.close(), local.close()]);
    }
  });

  it('answers a wrong env id or a wrong token at once, without trying every server', async () => {
    const pool = await RemotePool.connect(urls, { token: TOKEN });
    try {
      await expect(pool.make('puzzle/guess-numbr-v0')).rejects.toMatchObject({ code: 'UNKNOWN_ENV' });
      expect(pool.status().every((status) => status.state === 'up')).toBe(true);
    } finally {
      await pool.close();
    }
    const wrong = await RemotePool.connect(urls, { token: 'not-the-token-0123456789' });
    try {
      await expect(wrong.make(ID)).rejects.toThrow('The token is wrong.');
    } finally {
      await wrong.close();
    }
  });

  it('refuses to start when no endpoint is healthy', async () => {
    await expect(RemotePool.connect(['127.0.0.1:1'], { healthTimeoutMs: 500 })).rejects.toThrow(
      /^No env server of the pool is healthy \(ws:\/\/127\.0\.0\.1:1\/v1: health check failed: .+\)\. Start them with `turngym serve` and check the addresses\.$/,
    );
  });
});

/** The failover tests' episodes: these seeds, each playing these actions (at difficulty 4, 6 turns at most). */
const seeds = Array.from({ length: 9 }, (_, i) => 100 + i);
const actions = ['guess(40)', 'guess(20)', 'guess(10)', 'guess(30)', 'guess(5)', 'guess(50)', 'guess(25)', 'guess(15)'];

/** The failover tests' episodes played on in-process envs: what every remote run must give. */
async function reference(): Promise<string[][]> {
  const local = await Promise.all(seeds.map(() => make(ID, { difficulty: 4 }, { maxTurns: 6 })));
  try {
    return await playLockstep(local, seeds, actions);
  } finally {
    await Promise.all(local.map((env) => env.close()));
  }
}

/** Plays the same actions on every env in lockstep; `between(turn)` runs before each turn. Returns each env's results. */
async function playLockstep(
  envs: readonly Env[],
  seeds: readonly number[],
  actions: readonly string[],
  between: (turn: number, running: ReadonlySet<number>) => Promise<void> | void = () => {},
) {
  const transcripts: string[][] = envs.map(() => []);
  const resets = await Promise.all(envs.map((env, i) => env.reset({ seed: seeds[i]! })));
  resets.forEach((reset, i) => transcripts[i]!.push(reset.observation.text));
  const running = new Set(envs.map((_, i) => i));
  for (let turn = 0; turn < actions.length && running.size > 0; turn++) {
    await between(turn, running);
    const indices = [...running];
    const results: StepResult[] = await Promise.all(indices.map((i) => envs[i]!.step(actions[turn]!)));
    results.forEach((result, k) => {
      const i = indices[k]!;
      transcripts[i]!.push(`${result.observation.text}|${result.reward}|${result.terminated}|${result.truncated}`);
      if (result.terminated || result.truncated) running.delete(i);
    });
  }
  return transcripts;
}

describe('RemotePool failover', () => {
  const { servers, urls } = serversForSuite(3);

  it('moves the episodes of a server killed mid-rollout (SIGKILL) to the others and loses nothing', async () => {
    const lines: string[] = [];
    const pool = await RemotePool.connect(urls, { token: TOKEN, log: (line) => lines.push(line) });
    try {
      const envs = await Promise.all(seeds.map(() => pool.make(ID, { difficulty: 4 }, { maxTurns: 6 })));
      const victim = servers[0]!;
      const victimUrl = victim.urls[0]!;
      const moved = envs.filter((env) => env.endpoint === victimUrl);
      expect(moved.length).toBe(3);
      let interrupted: PooledEnv[] = [];
      const transcripts = await playLockstep(envs, seeds, actions, async (turn, running) => {
        if (turn !== 2) return;
        interrupted = moved.filter((env) => running.has(envs.indexOf(env)));
        victim.child.kill('SIGKILL');
        await victim.exited;
      });
      expect(interrupted.length).toBeGreaterThan(0);
      // Every episode finished with exactly what an in-process env gives for the same seeds and actions.
      expect(transcripts).toEqual(await reference());
      expect(interrupted.every((env) => env.failovers === 1 && env.endpoint !== victimUrl)).toBe(true);
      expect(envs.filter((env) => env.failovers > 0)).toEqual(interrupted);
      expect(pool.status().find((status) => status.url === victimUrl)).toMatchObject({ state: 'down', sessions: 0 });
      expect(lines.some((line) => line.startsWith(`pool: ${victimUrl} is down (connection lost:`))).toBe(true);
      expect(
        lines.filter((line) => line.includes('episode (seed') && line.includes(`from ${victimUrl} to`)).length,
      ).toBe(interrupted.length);
      // New sessions go around the dead server.
      const more = await Promise.all(Array.from({ length: 4 }, () => pool.make(ID)));
      expect(more.every((env) => env.endpoint !== victimUrl)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('gives up a frozen server (SIGSTOP: no TCP close ever comes) after failed health checks, and moves its episodes', async () => {
    const alive = servers.filter((server) => server.child.exitCode === null && server.child.signalCode === null);
    expect(alive.length).toBe(2);
    const pool = await RemotePool.connect(
      alive.map((server) => server.urls[0]!),
      { token: TOKEN, healthIntervalMs: 200, healthTimeoutMs: 300, healthFailures: 2 },
    );
    const frozen = alive[0]!;
    try {
      const envs = await Promise.all(seeds.map(() => pool.make(ID, { difficulty: 4 }, { maxTurns: 6 })));
      const onFrozen = envs.filter((env) => env.endpoint === frozen.urls[0]);
      expect(onFrozen.length).toBeGreaterThan(0);
      let interrupted: PooledEnv[] = [];
      const transcripts = await playLockstep(envs, seeds, actions, (turn, running) => {
        if (turn !== 1) return;
        interrupted = onFrozen.filter((env) => running.has(envs.indexOf(env)));
        frozen.child.kill('SIGSTOP');
      });
      expect(interrupted.length).toBeGreaterThan(0);
      expect(transcripts).toEqual(await reference());
      expect(envs.filter((env) => env.failovers > 0)).toEqual(interrupted);
      const status = pool.status().find((candidate) => candidate.url === frozen.urls[0]);
      expect(status?.state).toBe('down');
      expect(status?.reason).toMatch(/^2 failed health checks; last: health check failed: /);
    } finally {
      frozen.child.kill('SIGKILL');
      await pool.close();
    }
  });

  it('rejects waiting requests at once with a retryable ConnectionLostError when the connection is given up', async () => {
    const server = await startServer();
    try {
      const client = await RemoteClient.connect(server.urls[0]!, { token: TOKEN, reconnectAttempts: 0 });
      const env = await client.make(ID);
      await env.reset({ seed: 1 });
      server.child.kill('SIGSTOP');
      const step = env.step('guess(1)');
      client.abandon('health checks failed');
      const error = await step.then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(TurngymError.is(error, 'ENV_FAILURE')).toBe(true);
      expect((error as ConnectionLostError).retryable).toBe(true);
      expect((error as Error).message).toBe(`The connection to ${server.urls[0]} is closed (health checks failed).`);
      await expect(env.step('guess(2)')).rejects.toThrow(
        `The connection to ${server.urls[0]} is closed (health checks failed); connect again.`,
      );
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});

describe.skipIf(!networkNamespacesAvailable())('RemotePool failover across network namespaces (ip netns)', () => {
  // Each server in its own network namespace, reached over a veth pair at its own address (not loopback).
  let namespaces: NetworkNamespace[] = [];
  let servers: ServerProcess[] = [];
  beforeAll(async () => {
    namespaces = [0, 1, 2].map((index) => createNetworkNamespace(index));
    servers = await Promise.all(
      namespaces.map((namespace) => startServer(['--host', namespace.serverAddress], { namespace: namespace.name })),
    );
  });
  afterAll(() => {
    killAll(servers);
    for (const namespace of namespaces) namespace.remove();
  });

  it("listens at each namespace's own address", () => {
    expect(servers.map((server) => new URL(server.urls[0]!).hostname)).toEqual(
      namespaces.map((namespace) => namespace.serverAddress),
    );
  });

  it('moves the episodes of a server killed mid-rollout (SIGKILL) to the servers in the other namespaces', async () => {
    const pool = await RemotePool.connect(
      servers.map((server) => server.urls[0]!),
      { token: TOKEN },
    );
    try {
      const envs = await Promise.all(seeds.map(() => pool.make(ID, { difficulty: 4 }, { maxTurns: 6 })));
      const victim = servers[0]!;
      let interrupted: PooledEnv[] = [];
      const transcripts = await playLockstep(envs, seeds, actions, async (turn, running) => {
        if (turn !== 2) return;
        interrupted = envs.filter((env, i) => env.endpoint === victim.urls[0] && running.has(i));
        victim.child.kill('SIGKILL');
        await victim.exited;
      });
      expect(interrupted.length).toBeGreaterThan(0);
      expect(transcripts).toEqual(await reference());
      expect(envs.filter((env) => env.failovers > 0)).toEqual(interrupted);
      expect(interrupted.every((env) => env.endpoint !== victim.urls[0])).toBe(true);
      expect(pool.status().find((status) => status.url === victim.urls[0])).toMatchObject({
        state: 'down',
        sessions: 0,
      });
    } finally {
      await pool.close();
    }
  });

  it('gives up a partitioned server (its link down: the process runs on, nothing closes) and moves its episodes', async () => {
    const reachable = [1, 2];
    const pool = await RemotePool.connect(
      reachable.map((index) => servers[index]!.urls[0]!),
      { token: TOKEN, healthIntervalMs: 200, healthTimeoutMs: 300, healthFailures: 2 },
    );
    const cutOff = servers[1]!;
    try {
      const envs = await Promise.all(seeds.map(() => pool.make(ID, { difficulty: 4 }, { maxTurns: 6 })));
      let interrupted: PooledEnv[] = [];
      const transcripts = await playLockstep(envs, seeds, actions, (turn, running) => {
        if (turn !== 1) return;
        interrupted = envs.filter((env, i) => env.endpoint === cutOff.urls[0] && running.has(i));
        namespaces[1]!.partition();
      });
      expect(interrupted.length).toBeGreaterThan(0);
      expect(transcripts).toEqual(await reference());
      expect(envs.filter((env) => env.failovers > 0)).toEqual(interrupted);
      expect(cutOff.child.exitCode).toBeNull();
      const status = pool.status().find((candidate) => candidate.url === cutOff.urls[0]);
      expect(status?.state).toBe('down');
      expect(status?.reason).toMatch(/^2 failed health checks; last: health check failed: /);
    } finally {
      await pool.close();
    }
  });
});

describe('RemotePool DNS discovery', () => {
  it('makes every address a dns:HOST:PORT entry resolves to an endpoint (a headless Service: one per pod)', async () => {
    const server = await startServer();
    try {
      const port = new URL(server.urls[0]!).port;
      const lines: string[] = [];
      const pool = await RemotePool.connect([`dns:localhost:${port}`], {
        token: TOKEN,
        log: (line) => lines.push(line),
      });
      try {
        expect(pool.status().find((status) => status.url === `ws://127.0.0.1:${port}/v1`)).toMatchObject({
          state: 'up',
        });
        expect(lines).toContain(`pool: ws://127.0.0.1:${port}/v1 joined (localhost)`);
        const env = await pool.make(ID);
        expect(env.endpoint).toBe(`ws://127.0.0.1:${port}/v1`);
      } finally {
        await pool.close();
      }
      await expect(RemotePool.connect(['dns:localhost'])).rejects.toThrow(
        "'dns:localhost' is not a DNS endpoint: write dns:HOST:PORT (every address HOST resolves to becomes an endpoint).",
      );
    } finally {
      killAll([server]);
    }
  });
});
