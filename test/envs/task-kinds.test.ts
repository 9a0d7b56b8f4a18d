/**
 * Every built-in suite with several kinds of task names each task's kind (what `reset` reports as
 * `info.kind` and evaluations break down by), and no kind gives the answer away. Generators only: the
 * envs' `reset` is checked in the code and search env tests.
 */
import { describe, expect, it } from 'vitest';
import { CALC_FAMILIES, calcSuite } from '../../src/envs/code/calc.js';
import { FUNCTION_FAMILIES, functionsSuite } from '../../src/envs/code/functions.js';
import { PUZZLE_KINDS, puzzlesSuite } from '../../src/envs/code/puzzles.js';
import { type Task } from '../../src/envs/task.js';
import { Rng } from '../../src/core/rng.js';
import { shopSuite } from '../../src/envs/web/shop.js';
import { wikiSuiteOf } from '../../src/envs/web/wiki.js';

const SUITES: [string, { generate(rng: Rng, difficulty: number): Task }, (kind: string) => boolean][] = [
  ['code/functions', functionsSuite, (kind) => kind in FUNCTION_FAMILIES],
  ['code/calc', calcSuite, (kind) => kind in CALC_FAMILIES],
  ['code/puzzles', puzzlesSuite, (kind) => (PUZZLE_KINDS as string[]).includes(kind)],
  ['web/wiki', wikiSuiteOf(40), (kind) => /^[a-z]+\.[a-zA-Z]+$/.test(kind)],
  ['web/shop', shopSuite, (kind) => /^[a-z ]+$/.test(kind)],
];

describe('kinds of task', () => {
  for (const [name, suite, isKind] of SUITES) {
    it(`${name} names a kind for every task, several across seeds, never the answer`, () => {
      const rng = Rng.fromSeed(5);
      const kinds = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const task = suite.generate(rng, 1 + (i % 3));
        expect(task.kind, `${name} task ${i}`).toBeDefined();
        expect(isKind(task.kind!), `${name}: ${task.kind}`).toBe(true);
        expect(task.kind!.toLowerCase()).not.toBe(task.answer.toLowerCase());
        kinds.add(task.kind!);
      }
      expect(kinds.size).toBeGreaterThan(2);
    });
  }
});
