/**
 * Adversarial snippets against the code/ sandbox. Every case runs through a real env from `make`, then
 * asserts that the host is untouched (its intrinsics, globals and file system) and that the next step works.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env, StepResult } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import { Sandbox } from '../../../src/envs/code/sandbox.js';
import '../../../src/envs/builtin.js';

const CANARY = join(tmpdir(), `turngym-canary-${process.pid}`);

// A WebAssembly module exporting `f`, a function that loops forever: (func (loop (br 0))).
const WASM_LOOP =
  'new Uint8Array([0,97,115,109,1,0,0,0,1,4,1,96,0,0,3,2,1,0,7,5,1,1,102,0,0,10,9,1,7,0,3,64,12,0,11,11])';

interface Case {
  name: string;
  code: string;
  /** Checks the step's observation (beyond "the host is untouched and the next step works"). */
  expect?: (result: StepResult) => void;
  /** The case sabotages what the display relies on, so the next step only has to be an observation. */
  spoilsDisplay?: boolean;
}

const timesOut = (result: StepResult) => expect(result.info.error?.code).toBe('TIMEOUT');
// On a loaded machine a memory bomb may meet the time limit before the memory limit; either stops it.
const fails = (result: StepResult) => expect(result.info.error).toBeDefined();
// A promise chain that grows without end is stopped by whichever limit it meets first: measured, about 1 run
// in 6 reaches the 64 MB memory limit before the 1 s time limit (the interpreter restarts, state lost).
const timesOutOrRunsOutOfMemory = (result: StepResult) => {
  if (result.info.error?.code === 'TIMEOUT') return;
  expect(result.info.state_lost).toBe(true);
  expect(result.observation.text).toMatch(/more than the memory limit/);
};
const notDefined = (name: string) => (result: StepResult) =>
  expect(result.observation.text).toMatch(new RegExp(`ReferenceError: ${name} is not defined`));
const noHostValue = (result: StepResult) => {
  expect(result.observation.text).not.toMatch(/\[object process\]|'object'|node:|\/work\//);
};

const CASES: Case[] = [
  // Reaching the host through constructor chains and globals.
  {
    name: 'constructor chain to process',
    code: "this.constructor.constructor('return process')()",
    expect: (r) => expect(r.observation.text).toMatch(/ReferenceError: process is not defined/),
  },
  {
    name: 'Function constructor to this.process',
    code: "Function('return this')().process",
    expect: (r) => expect(r.observation.text).toBe('=> undefined'),
  },
  {
    name: 'arrow constructor to require',
    code: "(() => 0).constructor('return require')()",
    expect: (r) => expect(r.observation.text).toMatch(/require is not defined/),
  },
  {
    name: 'async function constructor to import()',
    code: 'await (async () => 0).constructor(\'return import("fs")\')()',
    expect: fails,
  },
  {
    name: 'dynamic import of fs',
    code: "import('node:fs').then((fs) => fs.writeFileSync(" + JSON.stringify(CANARY) + ", 'x'))",
    expect: fails,
  },
  {
    name: 'no host names on the global object',
    code: "['process', 'require', 'module', 'Buffer', 'fetch', 'XMLHttpRequest', 'WebSocket', 'global', '$0'].filter((name) => name in globalThis)",
    expect: (r) => expect(r.observation.text).toBe('=> []'),
  },
  {
    name: 'caller chain out of a function',
    code: '(function f() { return String(f.caller) })()',
    expect: (r) => expect(r.observation.text).toBe("=> 'null'"),
  },
  // Stack-trace hooks.
  {
    name: 'Error.prepareStackTrace exposing frames and their receivers',
    code: "Error.prepareStackTrace = (e, frames) => frames; new Error().stack.map((frame) => { try { const self = frame.getThis(); return self ? typeof self.constructor.constructor('return typeof process')() : String(self) } catch (error) { return 'blocked' } })",
    expect: noHostValue,
  },
  {
    name: 'Error.prepareStackTrace that throws',
    code: "Error.prepareStackTrace = () => { throw new Error('hijack') }; null.x",
    expect: fails,
  },
  {
    name: 'Error.prepareStackTrace that loops',
    code: 'Error.prepareStackTrace = () => { for (;;) {} }; null.x',
    expect: timesOut,
  },
  {
    name: 'captureStackTrace on a getter object',
    code: "const o = {}; Error.captureStackTrace(o); Object.defineProperty(o, 'stack', { get() { throw 1 } }); throw o",
    expect: fails,
  },
  // Proxies, getters and hostile values handed back for display.
  {
    name: 'Proxy whose traps throw',
    code: "new Proxy({}, { ownKeys() { throw new Error('trap') }, get() { throw new Error('trap') } })",
    expect: (r) => expect(r.observation.text).toBe('=> [value could not be displayed: trap]'),
  },
  { name: 'Proxy whose trap loops', code: 'new Proxy({}, { ownKeys() { for (;;) {} } })', expect: timesOut },
  {
    name: 'getter that loops is never called',
    code: '({ get x() { for (;;) {} } })',
    expect: (r) => expect(r.observation.text).toBe('=> { x: [Getter] }'),
  },
  {
    name: 'thrown Proxy',
    code: "throw new Proxy(new Error('p'), { get(target, key) { if (key === 'stack') for (;;) {} return Reflect.get(target, key) } })",
    expect: fails,
  },
  { name: 'thrown object whose toString throws', code: 'throw { toString() { throw 1 } }', expect: fails },
  { name: 'thenable whose then loops', code: '({ then() { for (;;) {} } })', expect: timesOut },
  {
    name: 'Symbol.toPrimitive bomb in console.log',
    code: "console.log('%s %d', { [Symbol.toPrimitive]() { throw new Error('x') } }, { valueOf() { throw 2 } })",
    expect: (r) => expect(r.info.error).toBeUndefined(),
  },
  // Prototype pollution and tampering with what the driver uses.
  {
    name: 'prototype pollution of intrinsics',
    code: "Object.prototype.polluted = 1; Array.prototype.push = null; Array.prototype.join = null; JSON.stringify = null; String.prototype.slice = null; Object.defineProperty(Object.prototype, 'then', { get() { return undefined }, configurable: true }); 1",
    expect: (r) => expect(r.observation.text).toBe('=> 1'),
  },
  {
    name: 'replacing eval, console and Reflect',
    code: 'eval = null; console = null; Reflect.apply = null; globalThis.Reflect = null; 2',
    expect: (r) => expect(r.observation.text).toBe('=> 2'),
  },
  {
    name: 'null-prototype global',
    code: 'Object.setPrototypeOf(globalThis, null); 3',
    expect: (r) => expect(r.observation.text).toBe('=> 3'),
  },
  {
    name: 'Array iterator sabotage',
    code: 'Array.prototype[Symbol.iterator] = function* () { for (;;) yield 1 }; [1, 2]',
    expect: (r) => expect(r.observation.text).toBe('=> [ 1, 2 ]'),
  },
  // Sabotage of what the driver formats with: the cell's own error or output, never a failure of the env.
  {
    name: 'index accessors on Array.prototype that throw (broke every step until reset)',
    code: "for (let i = 0; i < 8; i++) Object.defineProperty(Array.prototype, i, { get() { throw new Error('get') }, set() { throw new Error('set') }, configurable: true }); console.log('still', 'here'); ({ a: [1, 2], b: new Map([[1, 2]]) })",
    expect: (r) => expect(r.observation.text).toBe('still here\n=> { a: [ 1, 2 ], b: Map(1) { 1 => 2 } }'),
  },
  {
    name: 'get and set on Object.prototype (descriptors read them)',
    code: 'Object.prototype.get = () => 1; Object.prototype.set = () => 2; Object.prototype.value = 3; ({ x: 1, y: [2] })',
    expect: (r) => expect(r.observation.text).toBe('=> { x: 1, y: [ 2 ] }'),
  },
  {
    name: 'toString and valueOf that throw on every prototype',
    code: "for (const proto of [Object.prototype, Function.prototype, Array.prototype, Error.prototype, Symbol.prototype, Number.prototype, String.prototype]) { proto.toString = () => { throw new Error('ts') }; proto.valueOf = () => { throw new Error('vo') } } console.log({ a: 1 }, [2], 3, 'x'); throw new Error('boom')",
    expect: (r) => expect(r.observation.text).toMatch(/^\{ a: 1 \} \[ 2 \] 3 x\nUncaught Error: boom/),
  },
  {
    name: 'Symbol.toPrimitive on Object.prototype',
    code: "Object.prototype[Symbol.toPrimitive] = () => { throw new Error('prim') }; throw { message: 'm' }",
    expect: fails,
  },
  // Display uses regular expressions: sabotaging RegExp.prototype.exec spoils the episode's display (said so), never the env.
  {
    name: 'RegExp.prototype.exec that throws',
    code: "RegExp.prototype.exec = () => { throw new Error('exec') }; ({ 'a b': 1 })",
    expect: (r) => expect(r.observation.text).toBe('=> [value could not be displayed: exec]'),
    spoilsDisplay: true,
  },
  {
    name: 'Promise.prototype.then that throws, then a promise',
    code: "Promise.prototype.then = () => { throw new Error('then') }; Promise.resolve(1)",
    expect: (r) => expect(r.info.error?.code).not.toBe('ENV_FAILURE'),
  },
  {
    name: 'Promise constructor species sabotage (an exception past the driver)',
    code: "Object.defineProperty(Promise.prototype, 'constructor', { get() { throw new Error('species') } }); Promise.resolve(1)",
    expect: (r) => expect(r.observation.text).toMatch(/^Uncaught species \(raised outside the cell's own code/),
  },
  // Time: loops, microtasks, timers, regular expressions, WebAssembly, Atomics.
  { name: 'infinite loop', code: 'while (true) {}', expect: timesOut },
  {
    name: 'loop that swallows exceptions',
    code: 'for (;;) { try { for (;;) {} } catch (error) {} finally { continue } }',
    expect: timesOut,
  },
  { name: 'infinite microtask chain', code: '(async () => { for (;;) await null })()', expect: timesOut },
  {
    name: 'recursive promise chain',
    code: 'function again() { return Promise.resolve().then(again) } again()',
    expect: timesOutOrRunsOutOfMemory,
  },
  { name: 'queueMicrotask storm', code: 'function storm() { queueMicrotask(storm) } storm()', expect: timesOut },
  {
    name: 'promise that never settles',
    code: 'await new Promise(() => {})',
    expect: (r) => expect(r.observation.text).toMatch(/the promise never settled/),
  },
  { name: 'setInterval that never stops', code: 'setInterval(() => {}, 1); 1', expect: timesOut },
  { name: 'catastrophic regular expression', code: "/^(a+)+$/.test('a'.repeat(40) + 'b')", expect: timesOut },
  // WebAssembly is removed from every context (its memory escapes the heap limit), so its loops cannot run.
  {
    name: 'WebAssembly infinite loop',
    code: `new WebAssembly.Instance(new WebAssembly.Module(${WASM_LOOP})).exports.f()`,
    expect: (r) => expect(r.observation.text).toMatch(/ReferenceError: WebAssembly is not defined/),
  },
  // Atomics and SharedArrayBuffer are removed: Atomics.waitAsync aborted the whole host process (SIGABRT).
  {
    name: 'Atomics.wait forever',
    code: 'Atomics.wait(new Int32Array(new SharedArrayBuffer(16)), 0, 0)',
    expect: notDefined('Atomics'),
  },
  {
    name: 'Atomics.waitAsync awaited (aborted the host)',
    code: 'await Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(16)), 0, 0, 50).value.then((v) => v)',
    expect: notDefined('Atomics'),
  },
  {
    name: 'Atomics.waitAsync not awaited (aborted the host)',
    code: 'Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(16)), 0, 0, 20); 1',
    expect: notDefined('Atomics'),
  },
  {
    name: 'SharedArrayBuffer through a typed array of a wasm memory',
    code: 'new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer',
    expect: notDefined('WebAssembly'),
  },
  {
    name: 'no intrinsic isolated-vm cannot contain is reachable',
    code: "['Atomics', 'SharedArrayBuffer', 'FinalizationRegistry', 'WeakRef', 'Intl', 'WebAssembly'].filter((name) => name in globalThis || Object.getOwnPropertyNames(globalThis).includes(name))",
    expect: (r) => expect(r.observation.text).toBe('=> []'),
  },
  {
    name: 'Intl reached through a locale method',
    code: "typeof (1).toLocaleString('de-DE', { style: 'currency', currency: 'EUR' }) + ' ' + typeof Intl",
    expect: (r) => expect(r.observation.text).toBe("=> 'string undefined'"),
  },
  // Code outside any call: cleanup callbacks of the garbage collector ran with no time limit and blocked the host.
  {
    name: 'FinalizationRegistry whose cleanup loops',
    code: 'const registry = new FinalizationRegistry(() => { for (;;) {} }); for (let i = 0; i < 10000; i++) registry.register({}, i)',
    expect: notDefined('FinalizationRegistry'),
  },
  { name: 'WeakRef', code: 'new WeakRef({})', expect: notDefined('WeakRef') },
  // Stack and output.
  {
    name: 'deep recursion',
    code: 'function down(n) { return down(n + 1) + 1 } down(0)',
    expect: (r) => expect(r.observation.text).toMatch(/Maximum call stack size exceeded/),
  },
  {
    name: 'deep recursion while formatting',
    code: 'let nest = []; for (let i = 0; i < 1e4; i++) nest = [nest]; nest',
    expect: (r) => expect(r.observation.text).toBe('=> [ [ [ [ [Array] ] ] ] ]'),
  },
  {
    name: 'huge console output',
    code: "for (let i = 0; i < 1e5; i++) console.log('x'.repeat(100))",
    expect: (r) => expect(r.observation.text).toMatch(/output cut: \d+ more characters/),
  },
  {
    name: 'huge string value',
    code: "'y'.repeat(1e7)",
    expect: (r) => expect(r.observation.text.length).toBeLessThan(5000),
  },
  {
    name: 'huge array value',
    code: 'new Array(1e6).fill(7)',
    expect: (r) => expect(r.observation.text).toMatch(/999900 more items/),
  },
  // Memory.
  { name: 'array memory bomb', code: 'const hog = []; for (;;) hog.push(new Array(1e6).fill(1))', expect: fails },
  { name: 'string doubling bomb', code: "let s = 'x'; for (;;) s += s", expect: fails },
  { name: 'huge typed array', code: 'new Float64Array(2 ** 30)', expect: fails },
  {
    name: 'many typed arrays',
    code: 'const keep = []; for (let i = 0; i < 10000; i++) keep.push(new Uint8Array(1 << 24))',
    expect: fails,
  },
  {
    name: 'WebAssembly memory growth',
    code: 'new WebAssembly.Memory({ initial: 1, maximum: 65536 }).grow(60000)',
    expect: fails,
  },
  {
    name: 'resizable ArrayBuffer grown past the heap limit',
    code: 'const r = new ArrayBuffer(1, { maxByteLength: 2 ** 30 }); r.resize(2 ** 30); new Uint8Array(r).fill(1)',
    expect: fails,
  },
  {
    name: 'growable SharedArrayBuffer',
    code: 'const g = new SharedArrayBuffer(1, { maxByteLength: 2 ** 30 }); g.grow(2 ** 30)',
    expect: fails,
  },
  {
    name: 'resize reached through the prototype chain',
    code: "Object.getPrototypeOf(new Uint8Array(1).buffer).resize || Object.getOwnPropertyNames(ArrayBuffer.prototype).includes('resize')",
    expect: (r) => expect(r.observation.text).toBe('=> false'),
  },
  { name: 'object graph bomb', code: 'let o = {}; for (;;) o = { o, pad: new Array(1000).fill(o) }', expect: fails },
];

describe('code/ sandbox security', () => {
  let env: Env;
  let hostSnapshot: string;
  const snapshotHost = () =>
    JSON.stringify({
      object: Object.getOwnPropertyNames(Object.prototype).sort(),
      array: Object.getOwnPropertyNames(Array.prototype).sort(),
      function: Object.getOwnPropertyNames(Function.prototype).sort(),
      string: Object.getOwnPropertyNames(String.prototype).sort(),
      globals: Object.getOwnPropertyNames(globalThis).sort(),
      intact: [
        typeof JSON.stringify,
        typeof Reflect.apply,
        typeof Array.prototype.push,
        typeof setTimeout,
        typeof process.exit,
        String(Math.random).includes('native code'),
      ],
      env: Object.keys(process.env).length,
    });

  beforeAll(async () => {
    rmSync(CANARY, { force: true });
    env = await make('code/calc-v0', { timeLimitMs: 400, memoryLimitMb: 32 });
    hostSnapshot = snapshotHost();
  });
  afterAll(async () => {
    await env.close();
  });

  it('has at least 30 adversarial cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  for (const testCase of CASES) {
    it(`survives: ${testCase.name}`, async () => {
      // A fresh episode per case, so one case's tampering cannot mask another's.
      await env.reset({ seed: 1 });
      const result = await env.step({ tool: 'run', args: { code: testCase.code } });
      expect(typeof result.observation.text).toBe('string');
      expect(result.terminated).toBe(false);
      testCase.expect?.(result);
      expect(snapshotHost()).toBe(hostSnapshot);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(existsSync(CANARY)).toBe(false);
      const next = await env.step({ tool: 'run', args: { code: '[1, 2, 3].map((x) => x * 2)' } });
      if (testCase.spoilsDisplay) expect(next.info.error).toBeUndefined();
      else expect(next.observation.text).toBe('=> [ 2, 4, 6 ]');
    });
  }
});

describe('code/ soak', () => {
  it('keeps memory bounded over thousands of episodes', async () => {
    const episodes = 3000;
    const env = await make('code/calc-v0');
    await env.reset({ seed: 0 });
    await env.step({ tool: 'run', args: { code: '1' } });
    const rssBefore = process.memoryUsage().rss;
    for (let episode = 0; episode < episodes; episode++) {
      await env.reset({ seed: episode });
      // Each episode leaves 1 MB in its context; contexts must be collected or the 64 MB isolate would die.
      await env.step({
        tool: 'run',
        args: {
          code: 'const ballast = new Uint8Array(1 << 20).fill(1); let total = 0; for (let i = 0; i < 100; i++) total += i; total',
        },
      });
      await env.step({ tool: 'run', args: { code: 'total + ballast.length' } });
    }
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    await env.close();

    // The same through the sandbox directly, to read the isolate's own heap and count its restarts.
    const sandbox = await Sandbox.create();
    const failures: string[] = [];
    for (let episode = 0; episode < 1000; episode++) {
      await sandbox.newEpisode(episode);
      const result = await sandbox.run('var ballast = new Array(100000).fill(episode => episode)');
      if (result.error) failures.push(`episode ${episode}: ${result.error}`);
    }
    const heapMb = (await sandbox.heapUsedBytes()) / 2 ** 20;
    const kills = sandbox.isolatesKilled;
    const recycled = sandbox.isolatesRecycled;
    await sandbox.close();

    // Many envs made and closed: their isolates must be disposed.
    for (let i = 0; i < 50; i++) {
      const shortLived = await make('code/functions-v0');
      await shortLived.reset({ seed: i });
      await shortLived.close();
    }
    const rssAfterEnvsMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(
      `code/ soak: ${episodes} episodes, host RSS growth ${rssGrowthMb.toFixed(1)} MB; 1000 sandbox episodes, isolate heap ${heapMb.toFixed(1)} MB, ${kills} isolates killed, ${recycled} recycled; after 50 envs made and closed, RSS growth ${rssAfterEnvsMb.toFixed(1)} MB`,
    );
    expect(failures).toEqual([]);
    expect(kills).toBe(0);
    // Heap figures include garbage not yet collected; no kill over 1000 episodes of ~1 MB each is the proof.
    expect(heapMb).toBeLessThan(64);
    expect(rssGrowthMb).toBeLessThan(200);
    expect(rssAfterEnvsMb).toBeLessThan(300);
  });
});

describe('code/ sandbox: code outside any call', () => {
  // Agent code can no longer start work outside a call (FinalizationRegistry, WeakRef, Atomics.waitAsync and
  // WebAssembly are gone). To prove the guard behind that, this test injects such work itself, through the
  // host's handle on the isolate: a second context (not the agent's) whose cleanup callback loops, started by
  // the garbage collector. Named for what it is: a fault agent code cannot cause any more.
  async function startBackgroundLoop(sandbox: Sandbox): Promise<void> {
    const isolate = (sandbox as unknown as { isolate: import('isolated-vm').Isolate }).isolate;
    const context = await isolate.createContext();
    await context.eval(
      'globalThis.registry = new FinalizationRegistry(() => { for (;;) {} }); for (let i = 0; i < 10000; i++) registry.register({}, i); 1',
    );
    await context.eval(
      'for (let j = 0; j < 20; j++) { let garbage = []; for (let i = 0; i < 100000; i++) garbage.push({ i }) } 1',
    );
  }
  async function heartbeatsWhile<T>(work: Promise<T>): Promise<{ value: T; beats: number }> {
    let beats = 0;
    const heartbeat = setInterval(() => beats++, 50);
    try {
      return { value: await work, beats };
    } finally {
      clearInterval(heartbeat);
    }
  }

  it('stops a cleanup callback that loops between calls, and says so at the next call', async () => {
    const sandbox = await Sandbox.create({ timeLimitMs: 300 });
    try {
      await sandbox.newEpisode(1);
      await sandbox.run('var kept = 41');
      await startBackgroundLoop(sandbox);
      const isolate = (sandbox as unknown as { isolate: import('isolated-vm').Isolate }).isolate;
      const { beats } = await heartbeatsWhile(
        (async () => {
          for (let waited = 0; waited < 20_000 && !isolate.isDisposed; waited += 50)
            await new Promise((resolve) => setTimeout(resolve, 50));
        })(),
      );
      expect(isolate.isDisposed).toBe(true);
      expect(beats).toBeGreaterThan(2); // the host's event loop kept running meanwhile
      const next = await sandbox.run('typeof kept');
      expect(next.stateLost).toBe(true);
      expect(next.error).toMatch(
        /^TimeoutError: code kept running after its call had returned .* The interpreter was restarted/,
      );
      expect((await sandbox.run('kept = 1; kept + 1')).value).toBe('2');
    } finally {
      await sandbox.close();
    }
  });

  it('starts the next episode when the isolate is busy outside any call (the reset used to block the host for good)', async () => {
    // The injection's own set-up (2M objects, to start the collector) also runs outside any call and counts
    // against the guard's budget: at 300 ms it was sometimes disposed before the loop began (on a loaded machine).
    const sandbox = await Sandbox.create({ timeLimitMs: 1000 });
    try {
      await sandbox.newEpisode(1);
      await startBackgroundLoop(sandbox);
      const { beats } = await heartbeatsWhile(sandbox.newEpisode(2));
      expect(beats).toBeGreaterThan(2);
      expect((await sandbox.run('6 * 7')).value).toBe('42');
    } finally {
      await sandbox.close();
    }
  });
});

describe('code/ sandbox: memory outside the heap', () => {
  it('keeps the host flat while a cell makes locale-formatted values for seconds', async () => {
    const env = await make('code/calc-v0', { timeLimitMs: 4000, memoryLimitMb: 64 });
    await env.reset({ seed: 1 });
    const rssBefore = process.memoryUsage().rss;
    // With Intl, this kept ICU objects alive (hundreds of MB of native memory for a 64 MB heap); without it,
    // the locale methods' ICU objects live only for the call.
    const result = await env.step({
      tool: 'run',
      args: {
        code: "const keep = []; const start = Date.now(); while (Date.now() - start < 3000) { try { keep.push(new Intl.Segmenter('en', { granularity: 'word' }), new Intl.DateTimeFormat('de-DE', { dateStyle: 'full' })) } catch { keep.push((keep.length + 0.5).toLocaleString('de-DE', { style: 'currency', currency: 'EUR' }), new Date(keep.length).toLocaleString('ja-JP'), 'a'.localeCompare('b', 'sv')) } } keep.length",
      },
    });
    const growthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    await env.close();
    console.log(
      `code/ native memory: host RSS grew ${growthMb.toFixed(0)} MB under locale formatting for 3 s (64 MB sandbox); ${result.observation.text.slice(0, 80)}`,
    );
    expect(result.info.error?.code).not.toBe('ENV_FAILURE');
    expect(growthMb).toBeLessThan(150);
  });
});

describe('code/functions-v0 hidden tests', () => {
  it('bound a whole submission, not each test: a function that loops costs two time limits', async () => {
    const { runHiddenTests, HIDDEN_TESTS_TIME_LIMITS } = await import('../../../src/envs/code/functions.js');
    const argsList = Array.from({ length: 12 }, (_, i) => [i]);
    const { outcomes } = await runHiddenTests('function spin(n) { for (;;) {} }', 'spin', argsList, {
      timeLimitMs: 200,
      memoryLimitMb: 32,
      maxOutputChars: 4096,
      maxCodeChars: 20_000,
    });
    expect(HIDDEN_TESTS_TIME_LIMITS).toBe(2);
    const timedOut = outcomes.filter((outcome) => !outcome.ok && /TimeoutError/.test(outcome.error));
    const notRun = outcomes.filter(
      (outcome) =>
        !outcome.ok &&
        /^not run: the hidden tests used their whole time budget \(400 ms for all of them\)/.test(outcome.error),
    );
    expect(timedOut.length).toBeGreaterThanOrEqual(1);
    expect(timedOut.length).toBeLessThanOrEqual(2);
    expect(timedOut.length + notRun.length).toBe(12);
  });

  it('scores a correct submission that sabotages Array.prototype first', async () => {
    const { runHiddenTests } = await import('../../../src/envs/code/functions.js');
    const code =
      "Object.defineProperty(Array.prototype, '0', { get() { throw new Error('get') }, set() { throw new Error('set') }, configurable: true });\nfunction pair(n) { return { n, twice: n * 2, list: Array.of(n, n + 1) } }";
    const { outcomes } = await runHiddenTests(code, 'pair', [[1], [2]], {
      timeLimitMs: 1000,
      memoryLimitMb: 32,
      maxOutputChars: 4096,
      maxCodeChars: 20_000,
    });
    expect(outcomes).toEqual([
      { ok: true, value: '{"list":[1,2],"n":1,"twice":2}' },
      { ok: true, value: '{"list":[2,3],"n":2,"twice":4}' },
    ]);
  });
});
