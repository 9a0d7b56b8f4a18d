import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteClient } from '../../../src/envs/remote/client.js';
import { RemoteServer, serve } from '../../../src/envs/remote/server.js';
import { Rng } from '../../../src/core/rng.js';
import { RawClient, registerTestEnvs } from './helpers.js';

const GUESS = 'puzzle/guess-number-v0';
const MESSAGES = 12_000;
const FUZZERS = 4;
const BATCH = 250;

let server: RemoteServer;

beforeAll(async () => {
  registerTestEnvs();
  server = await serve({ port: 0, maxPayload: 256 * 1024, maxInFlight: 64 });
});
afterAll(() => server.close());

/** Valid messages, to be sent as they are or mutated. */
function templates(session: string): Record<string, unknown>[] {
  return [
    { type: 'hello', id: 1, protocol: 1, role: 'agent' },
    { type: 'list', id: 2 },
    { type: 'make', id: 3, env: GUESS, kwargs: { difficulty: 2 } },
    { type: 'reset', id: 4, session, seed: 5, options: { maxTurns: 3 } },
    { type: 'step', id: 5, session, action: { tool: 'guess', args: { n: 4 } } },
    { type: 'step', id: 6, session, action: 'guess(7)' },
    { type: 'close', id: 7, session },
    { type: 'attach', id: 8, session, resume_token: 'not-the-token' },
    { type: 'ground_truth', id: 9, session },
  ];
}

// Built once: generating big payloads per message would make the test measure its own string building.
const DEEP = `${'['.repeat(2000)}${']'.repeat(2000)}`;
const DEEP_OPEN = '['.repeat(5000);
const PADDING = [0, 100, 5000, 50_000].map((size) => 'y'.repeat(size));
const OVER_LIMIT = 'x'.repeat(300 * 1024);

const WEIRD: unknown[] = [
  null,
  true,
  -1,
  1e308,
  3.5,
  '',
  'x'.repeat(300),
  [],
  {},
  [1, [2, [3]]],
  { nested: { deeper: [null] } },
  '__proto__',
  { __proto__: { polluted: true } },
];

/** One hostile frame: a string, a Buffer (binary frame), or an object to serialise. */
function hostile(rng: Rng, session: string): string | Buffer {
  const base = structuredClone(rng.pick(templates(session)));
  switch (rng.int(0, 11)) {
    case 0: // bad JSON: a valid message cut short
      return JSON.stringify(base).slice(0, rng.int(0, 30));
    case 1: // random bytes as text
      return Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255))).toString('latin1');
    case 2: // a binary frame
      return Buffer.from(JSON.stringify(base));
    case 3: // deeply nested
      return `{"type":"list","id":1,"x":${DEEP_OPEN}`;
    case 4: // deep but valid JSON
      return `{"type":"list","id":1,"junk":${DEEP}}`;
    case 5: {
      // a field replaced with a value of the wrong type
      const keys = Object.keys(base);
      base[rng.pick(keys)] = rng.pick(WEIRD);
      return JSON.stringify(base);
    }
    case 6: // a field removed
      delete base[rng.pick(Object.keys(base))];
      return JSON.stringify(base);
    case 7: // an unknown session
      return JSON.stringify({ ...base, session: `s-${rng.int(0, 1e9)}` });
    case 8: // not an object at all
      return JSON.stringify(rng.pick(WEIRD));
    case 9: // a payload over the limit (closes this connection with 1009)
      return JSON.stringify({ ...base, junk: rng.chance(0.05) ? OVER_LIMIT : rng.pick(PADDING) });
    case 10: // a wrong action shape
      return JSON.stringify({ type: 'step', id: rng.int(0, 1e6), session, action: rng.pick(WEIRD) });
    default: // a valid message
      return JSON.stringify(base);
  }
}

/** A fuzzing connection: sends batches of hostile frames; reconnects when the server closes it. */
async function fuzz(seed: number, count: number, stats: { sent: number; reconnects: number }): Promise<void> {
  const rng = Rng.fromSeed(seed);
  let client = await RawClient.hello(server.url);
  let session = 'none';
  const made = await client.request({ type: 'make', id: 'own', env: GUESS });
  session = made.session as string;
  for (let sent = 0; sent < count;) {
    for (let i = 0; i < BATCH && sent < count; i++, sent++) client.send(hostile(rng, session));
    stats.sent += Math.min(BATCH, count);
    const marker = `marker-${sent}`;
    try {
      await client.request({ type: 'list', id: marker });
    } catch {
      // The server closed this connection (payload over the limit, a wrong token): open another.
      stats.reconnects++;
      client = rng.chance(0.5) ? await RawClient.hello(server.url) : await RawClient.connect(server.url);
    }
  }
  client.close();
}

describe('RemoteServer under fuzzing', () => {
  it(`survives ${MESSAGES} random and mutated messages while a well-behaved client plays with zero failures`, async () => {
    const good = await RemoteClient.connect(server.url);
    const envs = await Promise.all(Array.from({ length: 4 }, () => good.make(GUESS, { difficulty: 3 })));
    let fuzzing = true;
    const played = { episodes: 0, steps: 0, failures: [] as string[] };
    const players = envs.map(async (env, index) => {
      const rng = Rng.fromSeed(100 + index);
      while (fuzzing) {
        try {
          await env.reset({ seed: rng.seed() });
          for (;;) {
            const result = await env.step({ tool: 'guess', args: { n: rng.int(1, 32) } });
            played.steps++;
            if (result.info.error) played.failures.push(`unexpected error observation: ${result.observation.text}`);
            if (result.terminated || result.truncated) break;
          }
          played.episodes++;
        } catch (error) {
          played.failures.push(String(error));
        }
      }
    });
    const stats = { sent: 0, reconnects: 0 };
    await Promise.all(Array.from({ length: FUZZERS }, (_, index) => fuzz(index + 1, MESSAGES / FUZZERS, stats)));
    fuzzing = false;
    await Promise.all(players);

    expect(stats.sent).toBeGreaterThanOrEqual(10_000);
    expect(played.failures).toEqual([]);
    expect(played.episodes).toBeGreaterThan(10);
    const health = await fetch(server.url.replace('ws:', 'http:').replace('/v1', '/healthz'));
    expect(await health.json()).toMatchObject({ status: 'ok' });
    // The server still serves new clients normally.
    const after = await RemoteClient.connect(server.url);
    const env = await after.make(GUESS);
    await env.reset({ seed: 1 });
    expect((await env.step('guess(16)')).info).toMatchObject({ turn: 1 });
    await after.close();
    await good.close();
  });
});
