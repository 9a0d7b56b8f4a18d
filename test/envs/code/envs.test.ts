import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/agent.js';
import { OracleAgent } from '../../../src/agent/baselines.js';
import { CALC_FAMILIES, calcSuite } from '../../../src/envs/code/calc.js';
import { DEFAULT_LIMITS } from '../../../src/envs/code/sandbox.js';
import { FUNCTION_FAMILIES, functionsSuite, runHiddenTests } from '../../../src/envs/code/functions.js';
import { evaluateExpression, PUZZLE_KINDS, type PuzzleTask, puzzlesSuite } from '../../../src/envs/code/puzzles.js';
import { checkEnv } from '../../../src/envs/check.js';
import { make } from '../../../src/envs/registry.js';
import { Rng } from '../../../src/core/rng.js';
import '../../../src/envs/builtin.js';

const IDS = ['code/calc-v0', 'code/functions-v0', 'code/puzzles-v0'];

describe('code/ envs', () => {
  for (const id of IDS) {
    it(`${id} passes checkEnv`, async () => {
      const report = await checkEnv(await make(id));
      expect(report.failures).toEqual([]);
    });
  }

  it('solves every difficulty with the oracle through the real env', async () => {
    for (const id of IDS) {
      const env = await make(id);
      for (let difficulty = 1; difficulty <= 5; difficulty++) {
        for (let seed = 0; seed < 6; seed++) {
          const transcript = await runEpisode(env, new OracleAgent(), {
            seed: seed * 101 + difficulty,
            options: { difficulty },
          });
          expect(transcript.success, `${id} difficulty ${difficulty} seed ${seed}`).toBe(true);
          expect(transcript.turns.at(-1)!.info.success).toBe(true);
          expect(transcript.return).toBe(1);
        }
      }
      await env.close();
    }
  });

  it('answers code errors as observations and keeps the episode going', async () => {
    const env = await make('code/calc-v0');
    await env.reset({ seed: 3 });
    const failed = await env.step({ tool: 'run', args: { code: 'undefinedName + 1' } });
    expect(failed).toMatchObject({
      terminated: false,
      reward: 0,
      info: {
        tool: 'run',
        error: { code: 'TOOL_ERROR', message: 'Uncaught ReferenceError: undefinedName is not defined' },
      },
    });
    expect(failed.observation.text).toBe('Uncaught ReferenceError: undefinedName is not defined\n    at cell-1:1:1');
    const tooLong = await env.step({ tool: 'run', args: { code: 'x'.repeat(20_001) } });
    expect(tooLong.info.error).toEqual({
      code: 'INVALID_ARGS',
      message: 'The code has 20001 characters; the limit is 20000. Send shorter code.',
    });
    expect((await env.step('run("6 * 7")')).observation.text).toBe('=> 42');
    await env.close();
  });

  it('applies the limits given as kwargs', async () => {
    const env = await make('code/calc-v0', { timeLimitMs: 50, maxOutputChars: 100, maxCodeChars: 40 });
    await env.reset({ seed: 1 });
    const slow = await env.step({ tool: 'run', args: { code: 'for (;;) {}' } });
    expect(slow.info.error?.code).toBe('TIMEOUT');
    expect(slow.observation.text).toContain('time limit (50 ms)');
    const noisy = await env.step({ tool: 'run', args: { code: 'console.log("z".repeat(500))' } });
    expect(noisy.observation.text).toBe(
      `${'z'.repeat(100)}\n[... output cut: 401 more characters (the limit is 100) ...]`,
    );
    expect((await env.step({ tool: 'run', args: { code: 'x'.repeat(41) } })).info.error?.code).toBe('INVALID_ARGS');
    await env.close();
    await expect(make('code/calc-v0', { memoryLimitMb: 2 })).rejects.toThrow('memoryLimitMb');
  });

  it('replaces an interpreter killed by the memory limit and says in the observation that state was lost', async () => {
    // A generous time limit, so that the memory limit is what stops the code even on a loaded machine.
    const env = await make('code/calc-v0', { memoryLimitMb: 16, timeLimitMs: 30_000 });
    await env.reset({ seed: 1 });
    await env.step({ tool: 'run', args: { code: 'var kept = 1' } });
    const killed = await env.step({
      tool: 'run',
      args: { code: 'const hog = []; for (;;) hog.push(new Array(1e6).fill(1))' },
    });
    expect(killed).toMatchObject({ terminated: false, info: { state_lost: true, error: { code: 'TOOL_ERROR' } } });
    expect(killed.observation.text).toContain(
      'RangeError: the code used more than the memory limit (16 MB). The interpreter was restarted: all variables and functions defined so far were lost.',
    );
    expect((await env.step({ tool: 'run', args: { code: 'typeof kept' } })).observation.text).toBe("=> 'undefined'");
    await env.close();
  });

  it('exposes the ground truth to trainers but not in the prompt (functions)', async () => {
    const env = await make('code/functions-v0');
    for (let seed = 0; seed < 10; seed++) {
      const { observation } = await env.reset({ seed });
      const truth = env.groundTruth!();
      expect(truth).toMatch(/^function \w+\(/);
      expect(observation.text).not.toContain(truth);
    }
    await env.close();
  });

  it("reports each task's kind (its family) and the family's parameters as the variant in reset's info", async () => {
    const functions = await make('code/functions-v0');
    const calc = await make('code/calc-v0');
    const kinds = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const { info, observation } = await functions.reset({ seed });
      expect(Object.keys(FUNCTION_FAMILIES)).toContain(info.kind);
      expect(observation.text).toContain(`function \`${FUNCTION_FAMILIES[info.kind!]!.functionName}(`);
      expect(info.variant).toMatch(/^\w+=[^,]+(,\w+=[^,]+)*$/); // e.g. lower=true, or a=3,b=5
      kinds.add(info.kind!);
      expect(Object.keys(CALC_FAMILIES)).toContain((await calc.reset({ seed })).info.kind);
    }
    expect(kinds.size).toBeGreaterThan(8);
    const { info } = await functions.reset({ seed: 3 });
    expect((await functions.reset({ seed: 3 })).info).toEqual(info); // the same seed, the same kind and variant
    await Promise.all([functions.close(), calc.close()]);
  });

  it('draws only the kinds named in kwarg kinds, the same task for a seed as before, and refuses unknown kinds by name', async () => {
    const all = await make('code/calc-v0', { difficulty: 1 });
    const two = await make('code/calc-v0', { difficulty: 1, kinds: ['collatz', 'weekday'] });
    const rooms = await make('code/puzzles-v0', { difficulty: 1, kinds: ['rooms'] });
    const seen = new Map<string, number>();
    for (let seed = 0; seed < 60; seed++) {
      const kind = (await two.reset({ seed })).info.kind!;
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
      expect((await rooms.reset({ seed })).observation.text).toContain('Put these meetings into as few rooms');
    }
    expect([...seen.keys()].sort()).toEqual(['collatz', 'weekday']);
    // Without kinds the draw is unchanged: seed 7's task is the one calcSuite has always generated for it.
    const unrestricted = await all.reset({ seed: 7 });
    expect(unrestricted.observation.text).toBe(calcSuite.generate(Rng.fromSeed(7), 1).prompt);
    expect((await all.reset({ seed: 5 })).info.kind).toBe('euler-totient'); // as before kinds existed
    // The oracle still solves a restricted env's tasks.
    expect((await runEpisode(two, new OracleAgent(), { seed: 11 })).success).toBe(true);
    await expect(make('code/functions-v0', { kinds: ['roman', 'romans'] })).rejects.toThrow(
      /unknown kind 'romans' in kwarg kinds; the kinds are .*roman/,
    );
    await expect(make('code/calc-v0', { kinds: [] })).rejects.toThrow(/kinds/);
    await Promise.all([all.close(), two.close(), rooms.close()]);
  });
});

describe('calc task suite', () => {
  it('has at least 12 families across number theory, combinatorics, strings, dates and simulations', () => {
    expect(Object.keys(CALC_FAMILIES).length).toBeGreaterThanOrEqual(12);
  });

  it('accepts the answer with formatting differences only and rejects others', () => {
    const task = calcSuite.generate(Rng.fromSeed(5), 3);
    expect(calcSuite.verify(task, ` "${task.answer}" `).success).toBe(true);
    expect(calcSuite.verify(task, `${task.answer}x`)).toEqual({
      score: 0,
      success: false,
      feedback: `Incorrect. The answer was ${task.answer}.`,
    });
    const big = { ...task, answer: '12345678901234567890' };
    expect(calcSuite.verify(big, '12345678901234567890n').success).toBe(true);
    expect(calcSuite.verify(big, '12345678901234567000').success).toBe(false);
  });
});

describe('functions task suite', () => {
  it('has at least 12 families, each parametrised by the seed', () => {
    expect(Object.keys(FUNCTION_FAMILIES).length).toBeGreaterThanOrEqual(12);
    const rng = Rng.fromSeed(9);
    for (const family of Object.values(FUNCTION_FAMILIES)) {
      const sources = new Set(Array.from({ length: 12 }, () => family.solution(family.draw(rng, 3))));
      expect(sources.size, family.functionName).toBeGreaterThan(1);
    }
  });

  it('passes every oracle submission in the hidden tests, for every family and difficulty', async () => {
    const rng = Rng.fromSeed(11);
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const task = functionsSuite.generate(rng, 1 + (i % 5));
      seen.add(task.kind);
      const verdict = await functionsSuite.judge(task, task.solution, DEFAULT_LIMITS);
      expect(verdict.success, `${task.kind}: ${verdict.feedback}`).toBe(true);
      expect(verdict.score).toBe(1);
    }
    expect(seen.size).toBeGreaterThanOrEqual(12);
  });

  it('scores a partly wrong submission by the fraction of tests passed and names the first failure', async () => {
    const task = functionsSuite.generate(Rng.fromSeed(2), 2);
    // Right on every test except the first hidden one.
    const wrongOn = JSON.stringify(JSON.stringify(task.tests[0]!.args));
    const partial = `${task.solution}\nconst reference = ${task.functionName};\n${task.functionName} = (...args) => (JSON.stringify(args) === ${wrongOn} ? 'wrong' : reference(...args));`;
    const verdict = await functionsSuite.judge(task, partial, DEFAULT_LIMITS);
    const total = task.tests.length;
    expect(verdict.score).toBeGreaterThan(0);
    expect(verdict.score).toBeLessThan(1);
    expect(verdict.success).toBe(false);
    expect(verdict.feedback).toMatch(
      new RegExp(
        `^\\d+/${total} hidden tests passed\\. First failure: ${task.functionName}\\(.*\\) returned "wrong"; expected `,
      ),
    );
  });

  it('fails every test of code that does not load, and survives hostile submissions', async () => {
    const task = functionsSuite.generate(Rng.fromSeed(4), 1);
    const broken = await functionsSuite.judge(task, 'function (', DEFAULT_LIMITS);
    expect(broken.score).toBe(0);
    expect(broken.feedback).toMatch(/^The submission failed to load: Uncaught SyntaxError/);
    const limits = { ...DEFAULT_LIMITS, timeLimitMs: 100, memoryLimitMb: 16 };
    const hostile = await runHiddenTests(
      `function ${task.functionName}() { const a = []; for (;;) a.push(new Array(1e5).fill(1)) }`,
      task.functionName,
      [[1], [2]],
      limits,
    );
    expect(hostile.outcomes.map((outcome) => outcome.ok)).toEqual([false, false]);
    const looping = await runHiddenTests(
      `function ${task.functionName}() { for (;;) {} }`,
      task.functionName,
      [[1]],
      limits,
    );
    expect(looping.outcomes[0]).toMatchObject({ ok: false, error: expect.stringContaining('time limit') });
  });
});

describe('puzzles task suite', () => {
  it('has an oracle that passes its verifier for every kind and difficulty, and a verifier that rejects a wrong answer', () => {
    const rng = Rng.fromSeed(21);
    const kinds = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const task = puzzlesSuite.generate(rng, 1 + (i % 5));
      kinds.add(task.kind);
      expect(puzzlesSuite.verify(task, task.answer), `${task.kind}: ${task.prompt}`).toEqual({
        score: 1,
        success: true,
        feedback: 'Correct.',
      });
      expect(puzzlesSuite.verify(task, 'nonsense').success).toBe(false); // not 'nonsense 1 2 3': items 1, 2, 3 can be a right knapsack
    }
    expect([...kinds].sort()).toEqual([...PUZZLE_KINDS].sort());
  });

  const find = (kind: PuzzleTask['kind'], difficulty = 2): PuzzleTask => {
    const rng = Rng.fromSeed(kind.length);
    for (;;) {
      const task = puzzlesSuite.generate(rng, difficulty);
      if (task.kind === kind) return task;
    }
  };

  it('accepts any correct 24-game expression, not only the reference', () => {
    const task = find('arithmetic');
    const data = task.data as { numbers: number[]; target: number };
    expect(evaluateExpression(task.answer).value).toEqual({ num: BigInt(data.target), den: 1n });
    const custom = { ...task, data: { kind: 'arithmetic' as const, numbers: [1, 2, 3, 4], target: 24 } };
    for (const answer of ['1 * 2 * 3 * 4', '(1 + 2 + 3) * 4', '4 × 3 × 2 ÷ 1'])
      expect(puzzlesSuite.verify(custom, answer).success, answer).toBe(true);
    expect(puzzlesSuite.verify(custom, '2 * 3 * 4').feedback).toMatch(
      /^Incorrect: it uses the numbers 2, 3, 4, not 1, 2, 3, 4 each exactly once/,
    );
    expect(puzzlesSuite.verify(custom, '(1 + 2) * 3 * 4').feedback).toMatch(/^Incorrect: it equals 36, not 24/);
    expect(puzzlesSuite.verify(custom, '4 / (2 - 2) + 1 * 3').feedback).toMatch(/division by zero/);
  });

  it('accepts a different valid sudoku completion, room labelling or schedule', () => {
    const rooms = find('rooms');
    const best = (rooms.data as { best: number }).best;
    // Relabel rooms: room r becomes best + 1 - r.
    const relabelled = rooms.answer.replace(/=(\d+)/g, (_, room: string) => `=${best + 1 - Number(room)}`);
    expect(puzzlesSuite.verify(rooms, relabelled).success).toBe(true);

    const sudoku = { ...find('sudoku', 1) };
    // Two completions of the same puzzle: blank out every cell, so any valid grid is accepted.
    sudoku.data = {
      ...(sudoku.data as { kind: 'sudoku'; size: number; boxRows: number; boxColumns: number; givens: number[][] }),
    };
    (sudoku.data as { givens: number[][] }).givens = [
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ];
    expect(puzzlesSuite.verify(sudoku, '1234/3412/2143/4321').success).toBe(true);
    expect(puzzlesSuite.verify(sudoku, '1234/3412/2143/4312').feedback).toMatch(/repeats a digit/);

    const scheduling = find('scheduling', 3);
    const data = scheduling.data as { durations: number[]; prerequisites: number[][]; best: number };
    // A job no other job waits for may start later, as long as it still ends by the best makespan.
    const last = data.durations.findIndex((_, job) => !data.prerequisites.some((before) => before.includes(job)));
    const starts = new Map(
      [...scheduling.answer.matchAll(/J(\d+)=(\d+)/g)].map((m) => [Number(m[1]) - 1, Number(m[2])]),
    );
    starts.set(last, data.best - data.durations[last]!);
    const delayed = [...starts].map(([job, start]) => `J${job + 1}=${start}`).join(', ');
    expect(puzzlesSuite.verify(scheduling, delayed).success).toBe(true);
  });
});
