import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/agent.js';
import { OracleAgent } from '../../../src/agent/baselines.js';
import { checkEnv } from '../../../src/envs/check.js';
import { make } from '../../../src/envs/registry.js';
import { Rng } from '../../../src/core/rng.js';
import { formsSuite } from '../../../src/envs/web/forms.js';
import { meetsConstraints, shopSuite } from '../../../src/envs/web/shop.js';
import { normaliseAnswer, wikiSuite } from '../../../src/envs/web/wiki.js';
import '../../../src/envs/builtin.js';
import { bare } from './helpers.js';

// Each of these plays whole episodes in Chromium; on a 2-core machine shared with training runs one takes up
// to a minute, so they get more than the default 60 s.
const EPISODES_TIMEOUT_MS = 300_000;

describe.each(['web/shop-v0', 'web/forms-v0', 'web/wiki-v0'])('%s', (id) => {
  it('passes checkEnv', { timeout: EPISODES_TIMEOUT_MS }, async () => {
    const report = await checkEnv(await make(id));
    expect(report.failures).toEqual([]);
  });
});

describe('web oracles', () => {
  // A few seeds per difficulty in the browser (the suites' verifiers are checked over many more seeds below).
  it.each([
    ['web/shop-v0', [1, 2, 3, 4, 5]],
    ['web/forms-v0', [1, 2, 3, 4, 5]],
    ['web/wiki-v0', [1, 2, 3, 4]],
  ] as const)(
    '%s: the oracle solves its tasks in the browser',
    { timeout: EPISODES_TIMEOUT_MS },
    async (id, difficulties) => {
      const env = await make(id);
      try {
        for (const difficulty of difficulties) {
          for (const seed of [difficulty * 7, difficulty * 7 + 1]) {
            const transcript = await runEpisode(env, new OracleAgent(), { seed, options: { difficulty } });
            const where = `${id} seed ${seed} difficulty ${difficulty}`;
            expect(transcript.success, where).toBe(true);
            expect(transcript.turns.map((turn) => turn.info.error).filter(Boolean), where).toEqual([]);
          }
        }
      } finally {
        await env.close();
      }
    },
  );

  it('verifies shop orders from the order record', { timeout: EPISODES_TIMEOUT_MS }, async () => {
    const env = await make('web/shop-v0', { difficulty: 5 });
    const transcript = await runEpisode(env, new OracleAgent(), { seed: 11 });
    expect(transcript.success).toBe(true);
    // After the episode the session is still open: read the order and tamper with copies of it.
    const state = bare(env).siteState() as {
      orders: { items: { productId: number; size: string; quantity: number }[]; city: string }[];
    };
    const order = state.orders[0]!;
    const task = shopSuite.generate(Rng.fromSeed(11), 5);
    const verdict = (orders: unknown[]) =>
      shopSuite.verify(task, { state: { catalogue: task.catalogue, cart: [], orders: orders as never } });
    expect(verdict([order])).toEqual({ score: 1, success: true, feedback: 'Order 1001 is right.' });
    expect(verdict([{ ...order, city: 'Atlantis' }])).toEqual({
      score: 0.857,
      success: false,
      feedback: 'Order 1001: the address is wrong.',
    });
    const wrong = task.catalogue.find((p) => !meetsConstraints(p, task.constraints))!;
    expect(verdict([{ ...order, items: [{ ...order.items[0]!, productId: wrong.id }] }]).success).toBe(false);
    expect(verdict([{ ...order, items: [{ ...order.items[0]!, quantity: 1 }] }]).feedback).toBe(
      'Order 1001: the quantity is wrong.',
    );
    expect(verdict([])).toEqual({ score: 0, success: false, feedback: 'No order was placed.' });
    await env.close();
  });
});

describe('web task suites', () => {
  it('shop: every task has a product that meets it, and the prompt never names it', () => {
    for (let seed = 0; seed < 200; seed++) {
      const difficulty = 1 + (seed % 5);
      const task = shopSuite.generate(Rng.fromSeed(seed), difficulty);
      expect(meetsConstraints(task.target, task.constraints)).toBe(true);
      expect(task.catalogue.find((p) => p.id === task.target.id)).toEqual(task.target);
      expect(task.prompt).not.toContain(task.target.name);
      // Near misses exist: products of the same category and colour that break another constraint.
      if (difficulty >= 3)
        expect(
          task.catalogue.some(
            (p) =>
              p.category === task.target.category &&
              p.colour === task.target.colour &&
              !meetsConstraints(p, task.constraints),
          ),
        ).toBe(true);
    }
  });

  it('forms: the expected submission passes the verifier and any wrong field fails it', () => {
    for (let seed = 0; seed < 200; seed++) {
      const task = formsSuite.generate(Rng.fromSeed(seed), 1 + (seed % 5));
      const submission: Record<string, string> = {};
      for (const [name, value] of Object.entries(task.expected)) if (value !== '') submission[name] = value;
      expect(formsSuite.verify(task, { state: { form: task.form, submissions: [submission] } }).success).toBe(true);
      const field = task.form.fields[seed % task.form.fields.length]!;
      const wrong = {
        ...submission,
        [field.name]: field.kind === 'checkbox' ? (submission[field.name] ? '' : 'on') : `${submission[field.name]}x`,
      };
      expect(formsSuite.verify(task, { state: { form: task.form, submissions: [wrong] } }).success).toBe(false);
    }
  });

  it('wiki: the ground truth passes the verifier in any spelling, other answers fail', () => {
    for (let seed = 0; seed < 100; seed++) {
      const task = wikiSuite.generate(Rng.fromSeed(seed), 1 + (seed % 4));
      const state = wikiSuite.createState(task);
      expect(wikiSuite.verify(task, { state, answer: task.answer }).success).toBe(true);
      expect(wikiSuite.verify(task, { state, answer: ` ${task.answer.toUpperCase()}. ` }).success).toBe(true);
      expect(wikiSuite.verify(task, { state, answer: 'certainly not this' }).success).toBe(false);
      expect(task.prompt).not.toContain(task.answer);
    }
    expect(normaliseAnswer('The Glass Threshold!')).toBe('glass threshold');
  });
});
