import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCell } from '../../../src/envs/code/env.js';
import { GLOBAL_PARAMETER, prepareCell } from '../../../src/envs/code/rewrite.js';
import { type CellResult, Sandbox } from '../../../src/envs/code/sandbox.js';

/** Runs a cell and returns what the agent would read. */
async function show(sandbox: Sandbox, code: string): Promise<string> {
  return formatCell(await sandbox.run(code), sandbox.limits);
}

describe('prepareCell', () => {
  it('leaves cells without declarations or await untouched (no parse)', () => {
    expect(prepareCell('x = 1; f(x)')).toEqual({ source: 'x = 1; f(x)', wrapped: false });
  });

  it('turns top-level let/const into var, keeping columns, and classes into var assignments', () => {
    expect(prepareCell('const a = 1; let b = 2;\n{ let c = 3 }').source).toBe('var   a = 1; var b = 2;\n{ let c = 3 }');
    expect(prepareCell('class A { m() {} }').source).toBe('var A = class A { m() {} };');
    expect(prepareCell('for (let i = 0; i < 2; i++) {}').source).toBe('for (let i = 0; i < 2; i++) {}');
  });

  it('wraps top-level await in an async function, hoisting declared names and returning the last expression', () => {
    const cell = prepareCell('const { a, b: [c] } = await f();\nfunction g() {}\nclass K {}\nlet u;\na + c');
    expect(cell.wrapped).toBe(true);
    expect(cell.source).toBe(
      `var a, c, g, K, u; (async function (${GLOBAL_PARAMETER}) { ${GLOBAL_PARAMETER}.g = g; void ( { a, b: [c] } = await f());\nfunction g() {}\nK = class K {};\nvoid ( u = undefined);\nreturn (a + c)\n})`,
    );
  });

  it('does not wrap await inside functions', () => {
    expect(prepareCell('async function h() { await 1 }').wrapped).toBe(false);
  });

  it('passes code acorn cannot parse through, so V8 reports the syntax error', () => {
    expect(prepareCell('let = = 2')).toEqual({ source: 'let = = 2', wrapped: false });
  });
});

describe('Sandbox', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create({ timeLimitMs: 500, maxOutputChars: 300 });
    await sandbox.newEpisode(7);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  describe('#run', () => {
    it('keeps top-level let, const, function and class bindings across cells, and allows redeclaring them', async () => {
      expect(await show(sandbox, 'let n = 5; const m = 2n ** 70n;')).toBe('=> undefined');
      expect(
        await show(sandbox, 'function twice(x) { return 2 * x }\nclass Point { constructor(x) { this.x = x } }'),
      ).toBe('=> undefined');
      expect(await show(sandbox, 'twice(n) + Number(m % 7n)')).toBe('=> 12');
      expect(await show(sandbox, 'new Point(n)')).toBe('=> Point { x: 5 }');
      expect(await show(sandbox, 'const n = 6; n')).toBe('=> 6');
      expect(await show(sandbox, 'n')).toBe('=> 6');
    });

    it('keeps bindings declared in cells with top-level await', async () => {
      expect(
        await show(sandbox, 'const waited = await Promise.resolve(41); async function later() { return waited + 1 }'),
      ).toBe('=> undefined');
      expect(await show(sandbox, 'await later()')).toBe('=> 42');
      expect(await show(sandbox, 'waited')).toBe('=> 41');
    });

    it('captures console output in order, then shows the last value', async () => {
      expect(
        await show(sandbox, 'console.log("a", 1); console.error({ b: [2] }); console.log("%s is %d", "x", 3); "done"'),
      ).toBe("a 1\n{ b: [ 2 ] }\nx is 3\n=> 'done'");
      expect(await show(sandbox, 'console.log("only output")')).toBe('only output');
    });

    it('formats values readably: objects, arrays, BigInt, Map, Set, Date, typed arrays, functions, cycles', async () => {
      expect(await show(sandbox, '[1, "two", 3n, null, undefined, -0, NaN]')).toBe(
        "=> [ 1, 'two', 3n, null, undefined, -0, NaN ]",
      );
      expect(await show(sandbox, 'new Map([["k", new Set([1, 2])]])')).toBe("=> Map(1) { 'k' => Set(2) { 1, 2 } }");
      expect(await show(sandbox, '[new Date(0), /x+/g, new Uint8Array([1, 2]), Symbol("s")]')).toBe(
        '=> [ 1970-01-01T00:00:00.000Z, /x+/g, Uint8Array(2) [ 1, 2 ], Symbol(s) ]',
      );
      expect(await show(sandbox, '[Math.max, class Q {}, () => 1]')).toBe(
        '=> [ [Function: max], [class Q], [Function: (anonymous)] ]',
      );
      expect(await show(sandbox, 'const cyclic = { name: "c" }; cyclic.self = cyclic; cyclic')).toBe(
        "=> { name: 'c', self: [Circular] }",
      );
      expect(await show(sandbox, '({ a: { b: { c: { d: { e: 1 } } } } })')).toBe(
        '=> { a: { b: { c: { d: [Object] } } } }',
      );
      expect(await show(sandbox, '[1, , 3]')).toBe('=> [ 1, <1 empty item>, 3 ]');
      expect(await show(sandbox, 'Array.from({ length: 150 }, (_, i) => i).length')).toBe('=> 150');
      expect((await sandbox.run('Array.from({ length: 150 }, () => 0)')).value).toMatch(
        /^\[\n {2}0, 0, 0, [0, \n]+\.\.\. 50 more items\n\]$/,
      );
    });

    it('never invokes getters when displaying a value', async () => {
      expect(await show(sandbox, 'let reads = 0; const tricky = { get x() { reads++; return 1 } }; tricky')).toBe(
        '=> { x: [Getter] }',
      );
      expect(await show(sandbox, 'reads')).toBe('=> 0');
    });

    it("reports uncaught errors with only the cells' own stack lines", async () => {
      const result = await sandbox.run(
        'function inner() { throw new RangeError("bad value") }\nfunction outer() { return inner() }\nouter()',
      );
      expect(result.error).toMatch(
        /^Uncaught RangeError: bad value\n {4}at inner \(cell-\d+:1:26\)\n {4}at outer \(cell-\d+:2:27\)\n {4}at cell-\d+:3:1$/,
      );
      expect(result.error).not.toMatch(/turngym|isolated-vm|node:|\/work\//);
      expect(await show(sandbox, 'throw "plain"')).toBe("Uncaught 'plain'");
    });

    it('awaits promises, including rejected ones and virtual timers', async () => {
      expect(await show(sandbox, 'Promise.resolve({ ok: true })')).toBe('=> { ok: true }');
      expect(await show(sandbox, 'await new Promise((resolve) => setTimeout(() => resolve("slept"), 5000))')).toBe(
        "=> 'slept'",
      );
      expect(await show(sandbox, 'setTimeout(() => console.log("tick"), 10); "first"')).toBe("tick\n=> 'first'");
      expect((await sandbox.run('Promise.reject(new TypeError("nope"))')).error).toMatch(/^Uncaught TypeError: nope/);
      expect(await show(sandbox, 'new Promise(() => {})')).toBe(
        'Uncaught Error: the promise never settled: nothing is left that could resolve it (no pending timers)',
      );
    });

    it('cuts long output with a visible marker', async () => {
      const result: CellResult = await sandbox.run('for (let i = 0; i < 100; i++) console.log("line " + i)');
      expect(result.output.length).toBe(300);
      expect(result.outputChars).toBe(790);
      expect(formatCell(result, sandbox.limits)).toMatch(
        /\n\[\.\.\. output cut: 490 more characters \(the limit is 300\) \.\.\.\]$/,
      );
    });

    it('stops code at the time limit and keeps the state defined before', async () => {
      await sandbox.run('var survivor = "still here"');
      const result = await sandbox.run('console.log("before"); while (true) {}');
      expect(result).toMatchObject({ limit: 'time', stateLost: false, output: 'before\n' });
      expect(result.error).toBe(
        'TimeoutError: the code ran longer than the time limit (500 ms) and was stopped. Variables and functions defined before are kept; pending timers were cleared.',
      );
      expect(await show(sandbox, 'survivor')).toBe("=> 'still here'");
    });

    it('seeds Math.random per episode', async () => {
      const other = await Sandbox.create();
      await other.newEpisode(7);
      const first = await other.run('Math.random()');
      await other.newEpisode(7);
      expect((await other.run('Math.random()')).value).toBe(first.value);
      await other.newEpisode(8);
      expect((await other.run('Math.random()')).value).not.toBe(first.value);
      await other.close();
    });
  });

  describe('#newEpisode', () => {
    it('starts from a fresh context: nothing from the previous episode is visible', async () => {
      const isolated = await Sandbox.create();
      await isolated.newEpisode(1);
      await isolated.run('var leaked = 1; Object.prototype.polluted = 2; globalThis.flag = 3');
      await isolated.newEpisode(2);
      expect(await show(isolated, '[typeof leaked, typeof ({}).polluted, typeof flag]')).toBe(
        "=> [ 'undefined', 'undefined', 'undefined' ]",
      );
      await isolated.close();
    });

    it('starts in a fresh isolate once earlier episodes left half the heap in garbage, losing nothing', async () => {
      const recycling = await Sandbox.create({ memoryLimitMb: 64 });
      await recycling.newEpisode(1);
      expect((await recycling.run('globalThis.big = new Array(5e6).fill(0); big.length')).value).toBe('5000000');
      await recycling.newEpisode(2);
      expect(recycling.isolatesRecycled).toBe(1);
      expect(await show(recycling, 'typeof big')).toBe("=> 'undefined'");
      expect((await recycling.heapUsedBytes()) / 2 ** 20).toBeLessThan(16);
      await recycling.close();
    });

    it("never lets one episode's garbage kill a later one: 60 episodes of 24 MB in a 64 MB isolate", async () => {
      // Without the check between episodes, released contexts outlived the cap often enough that the isolate
      // was killed (22 times in 300 episodes), sometimes while it built the next context.
      const busy = await Sandbox.create({ memoryLimitMb: 64 });
      const failures: string[] = [];
      for (let episode = 0; episode < 60; episode++) {
        await busy.newEpisode(episode);
        const result = await busy.run('var ballast = new Array(3e6).fill(episode => episode); ballast.length');
        if (result.value !== '3000000') failures.push(`episode ${episode}: ${result.error}`);
      }
      expect(failures).toEqual([]);
      expect(busy.isolatesKilled).toBe(0);
      await busy.close();
    });
  });

  describe('memory limit', () => {
    it('replaces a killed isolate and says that state was lost', async () => {
      const small = await Sandbox.create({ memoryLimitMb: 16 });
      await small.newEpisode(1);
      await small.run('var kept = 1');
      const result = await small.run('const hog = []; for (;;) hog.push(new Array(100000).fill(1))');
      expect(result).toMatchObject({ limit: 'memory', stateLost: true });
      expect(result.error).toBe(
        'RangeError: the code used more than the memory limit (16 MB). The interpreter was restarted: all variables and functions defined so far were lost.',
      );
      expect(await show(small, 'typeof kept')).toBe("=> 'undefined'");
      expect(await show(small, '6 * 7')).toBe('=> 42');
      expect(small.isolatesKilled).toBe(1);
      await small.close();
    });
  });

  describe('#close', () => {
    it('is idempotent and makes later calls fail with a clear error', async () => {
      const closing = await Sandbox.create();
      await closing.newEpisode(1);
      await closing.close();
      await closing.close();
      await expect(closing.run('1')).rejects.toThrow('The sandbox is closed.');
    });

    it('fails a call in flight with the same error, and starts no new isolate', async () => {
      const closing = await Sandbox.create({ timeLimitMs: 2000 }, { prepareSpare: false });
      await closing.newEpisode(1);
      const running = closing.run('while (true) {}');
      await new Promise((resolve) => setTimeout(resolve, 100));
      await closing.close();
      await expect(running).rejects.toThrow('The sandbox is closed.');
      expect(closing.isolatesKilled).toBe(0);
    });
  });
});
