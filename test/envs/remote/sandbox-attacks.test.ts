/**
 * The code sandbox's attacks against a real `turngym serve` process: a hostile agent-role client sends the cells
 * that used to abort the server (Atomics.waitAsync), block it for good (a looping FinalizationRegistry callback,
 * then a reset), grow it by gigabytes (Intl objects) or break its envs (sabotaged built-ins), while a bystander
 * client plays on. The server must stay up, keep answering the bystander, and stay within a memory bound.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteClient } from '../../../src/envs/remote/client.js';
import type { Env } from '../../../src/envs/env.js';
import { health, killAll, type ServerProcess, startServer, TOKEN } from './servers.js';

const ATTACKS: { name: string; cells: string[]; resetAfter?: boolean }[] = [
  {
    name: 'Atomics.waitAsync, awaited',
    cells: ['await Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(16)), 0, 0, 50).value.then((v) => v)'],
  },
  {
    name: 'Atomics.waitAsync, not awaited',
    cells: ['Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(16)), 0, 0, 20); 1'],
  },
  {
    name: 'a FinalizationRegistry callback that loops, garbage, then a reset',
    cells: [
      'globalThis.registry = new FinalizationRegistry(() => { for (;;) {} }); for (let i = 0; i < 10000; i++) registry.register({}, i)',
      'for (let j = 0; j < 20; j++) { let garbage = []; for (let i = 0; i < 100000; i++) garbage.push({ i }) } 1',
    ],
    resetAfter: true,
  },
  {
    name: 'Intl objects kept until the time limit',
    cells: [
      "const keep = []; for (;;) keep.push(new Intl.Segmenter('en', { granularity: 'word' }), new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' }))",
    ],
  },
  {
    name: 'index accessors on Array.prototype',
    cells: [
      "for (let i = 0; i < 8; i++) Object.defineProperty(Array.prototype, i, { get() { throw new Error('get') }, set() { throw new Error('set') }, configurable: true }); 1",
      "console.log('x'); [1, 2]",
    ],
  },
];

function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

describe('turngym serve under sandbox attacks', () => {
  let server: ServerProcess;
  let attacker: RemoteClient;
  let bystander: RemoteClient;
  let code: Env;
  let guess: Env;
  let baselineMb = 0;
  beforeAll(async () => {
    server = await startServer();
    attacker = await RemoteClient.connect(server.urls[0]!, { token: TOKEN, role: 'agent' });
    bystander = await RemoteClient.connect(server.urls[0]!, { token: TOKEN, role: 'agent' });
    code = await attacker.make('code/calc-v0');
    guess = await bystander.make('puzzle/guess-number-v0');
    await code.reset({ seed: 1 });
    await code.step({ tool: 'run', args: { code: '1 + 1' } });
    baselineMb = residentMb(server.child.pid!);
  });
  afterAll(async () => {
    await attacker?.close();
    await bystander?.close();
    killAll(server ? [server] : []);
  });

  for (const attack of ATTACKS) {
    it(`survives: ${attack.name}`, async () => {
      await code.reset({ seed: 2 });
      for (const cell of attack.cells) {
        const result = await code.step({ tool: 'run', args: { code: cell } });
        expect(result.info.error?.code).not.toBe('ENV_FAILURE');
      }
      // The bystander is served while (and after) the attacker's cells run.
      await guess.reset({ seed: 3 });
      expect((await guess.step('guess(8)')).observation.text).toMatch(/^8: (higher|lower|correct)/);
      if (attack.resetAfter) await code.reset({ seed: 4 });
      expect((await code.step({ tool: 'run', args: { code: '[1, 2, 3].length' } })).observation.text).toBe('=> 3');
      expect(server.child.exitCode).toBeNull();
      expect(server.child.signalCode).toBeNull();
      expect(await health(server.urls[0]!)).toMatchObject({ status: 'ok' });
      const growthMb = residentMb(server.child.pid!) - baselineMb;
      console.log(`serve under '${attack.name}': server RSS ${baselineMb.toFixed(0)} MB -> +${growthMb.toFixed(0)} MB`);
      expect(growthMb).toBeLessThan(300);
    });
  }
});
