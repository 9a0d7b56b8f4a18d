import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/envs/builtin.js';
import { readMetrics } from '../../src/rl/metrics.js';
import { train } from '../../src/rl/trainer.js';
import { killAll, type ServerProcess, startServers, TOKEN } from '../envs/remote/servers.js';
import { TINY_RUN } from './tiny-run.js';

/** The trainer test's tiny IGPO run (ground truth over the wire for information gain). */
const tiny = { ...TINY_RUN, steps: 2 };

const LEARNING = [
  'charts/success_rate',
  'charts/episodic_return',
  'actor/entropy',
  'actor/pg_loss',
  'rollout/ig_mean',
  'rollout/dropped',
  'rollout/turns_mean',
];

describe('train on remote env servers', () => {
  let servers: ServerProcess[] = [];
  beforeAll(async () => {
    servers = await startServers(2);
    process.env.TURNGYM_TOKEN = TOKEN;
  });
  afterAll(() => {
    killAll(servers);
    delete process.env.TURNGYM_TOKEN;
  });

  it('gives the same run as in-process envs, also when a server is killed (SIGKILL) during training', async () => {
    const root = await mkdtemp(join(tmpdir(), 'turngym-train-remote-'));
    await train({ ...tiny, out: join(root, 'local') }, { log: () => {} });
    const lines: string[] = [];
    const urls = servers.map((server) => server.urls[0]!);
    const victim = servers[0]!;
    await train(
      { ...tiny, out: join(root, 'remote'), remote: urls },
      {
        log: (line) => lines.push(line),
        // Killed while the second step's rollouts start: its episodes move to the other server.
        onStep: (record) => {
          if (record.step === 1) victim.child.kill('SIGKILL');
        },
      },
    );
    expect(lines).toContain(`[train] rollouts run on 2 env server(s): ${urls[0]} (up), ${urls[1]} (up)`);
    expect(lines.some((line) => line.startsWith(`pool: ${urls[0]} is down (connection lost:`))).toBe(true);

    const local = readMetrics(join(root, 'local', 'metrics.jsonl')).records;
    const remote = readMetrics(join(root, 'remote', 'metrics.jsonl')).records;
    expect(remote.map((record) => record.step)).toEqual([1, 2]);
    for (let i = 0; i < 2; i++) {
      for (const name of LEARNING) expect(remote[i]![name], `${name} at step ${i + 1}`).toBe(local[i]![name]);
    }
    expect(remote.every((record) => record['rollout/dropped'] === 0)).toBe(true);
  }, 240_000);
});
