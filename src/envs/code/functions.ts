/**
 * `code/functions-v0` tasks: implement a function from a specification with public examples. Hidden tests
 * (generated per task: edge cases plus random inputs that grow with difficulty) run in a fresh isolate;
 * the reward is the fraction passed, success means all passed.
 *
 * Each family draws parameters from the seed (a shift, a base, a chunk size, a variant of the rule), so the
 * same family asks for different functions. Expected outputs come from the family's reference solution,
 * the same JavaScript source the oracle submits.
 */
import type { Oracle } from '../env.js';
import type { Task, Verdict } from '../task.js';
import type { Rng } from '../../core/rng.js';
import type { CodeSuite } from './env.js';
import { type CallOutcome, Sandbox, type SandboxLimits } from './sandbox.js';

export interface FunctionTask extends Task {
  /** The family (a key of {@link FUNCTION_FAMILIES}). */
  kind: string;
  /** The family's parameters drawn for this task, e.g. `lower=true`. */
  variant: string;
  functionName: string;
  /** Reference solution (JavaScript source defining the function). Also `answer`. */
  solution: string;
  /** Hidden tests: arguments and the canonical text of the expected result. */
  tests: { args: unknown[]; expected: string }[];
}

type Params = Record<string, number | string | boolean>;

interface FunctionFamily {
  functionName: string;
  /** Parameter names as written in the signature, e.g. `items`. */
  parameters: string[];
  draw(rng: Rng, difficulty: number): Params;
  /** What the function must do, in words. */
  describe(params: Params): string;
  /** JavaScript source defining the function (the reference solution). */
  solution(params: Params): string;
  /** A random argument list; sizes grow with difficulty. */
  input(rng: Rng, difficulty: number, params: Params): unknown[];
  /** Edge cases every task's hidden tests include. */
  edges(params: Params): unknown[][];
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function randomInts(rng: Rng, length: number, low: number, high: number): number[] {
  return Array.from({ length }, () => rng.int(low, high));
}

function randomText(rng: Rng, length: number, alphabet: string): string {
  return Array.from({ length }, () => alphabet[rng.int(0, alphabet.length - 1)]).join('');
}

const VOCABULARY = ['red', 'blue', 'green', 'sun', 'moon', 'star', 'tree', 'leaf', 'rock', 'sand', 'wind', 'rain'];

export const FUNCTION_FAMILIES: Record<string, FunctionFamily> = {
  chunk: {
    functionName: 'chunk',
    parameters: ['items'],
    draw: (rng) => ({ size: rng.int(2, 5) }),
    describe: ({ size }) =>
      `Split the array \`items\` into consecutive chunks of ${size} elements (the last chunk may be shorter) and return the array of chunks.`,
    solution: ({ size }) =>
      `function chunk(items) {\n  const out = [];\n  for (let i = 0; i < items.length; i += ${size}) out.push(items.slice(i, i + ${size}));\n  return out;\n}`,
    input: (rng, difficulty) => [randomInts(rng, rng.int(1, 5 * difficulty + 5), -50, 50)],
    edges: ({ size }) => [[[]], [[7]], [randomIntsFixed(Number(size))]],
  },
  caesarShift: {
    functionName: 'caesarShift',
    parameters: ['text'],
    draw: (rng) => ({ shift: rng.int(1, 25) }),
    describe: ({ shift }) =>
      `Shift every letter of \`text\` ${shift} places forward in the alphabet, wrapping z to a; keep upper and lower case; leave all other characters unchanged. Return the new string.`,
    solution: ({ shift }) =>
      `function caesarShift(text) {\n  return text.replace(/[a-z]/gi, (c) => {\n    const base = c <= 'Z' ? 65 : 97;\n    return String.fromCharCode((c.charCodeAt(0) - base + ${shift}) % 26 + base);\n  });\n}`,
    input: (rng, difficulty) => [randomText(rng, rng.int(1, 10 * difficulty), 'abcxyzABCXYZ hello, World!')],
    edges: () => [[''], ['zZ'], ['123 !?']],
  },
  runLength: {
    functionName: 'runLength',
    parameters: ['text'],
    draw: (rng) => ({ countFirst: rng.chance(0.5) }),
    describe: ({ countFirst }) =>
      `Run-length encode \`text\`: each maximal run of one repeated character becomes ${countFirst ? 'the run length followed by the character (e.g. "aaab" -> "3a1b")' : 'the character followed by the run length (e.g. "aaab" -> "a3b1")'}. Return the encoded string ("" for "").`,
    solution: ({ countFirst }) =>
      `function runLength(text) {\n  let out = '';\n  for (let i = 0; i < text.length; ) {\n    let j = i;\n    while (j < text.length && text[j] === text[i]) j++;\n    out += ${countFirst ? '(j - i) + text[i]' : 'text[i] + (j - i)'};\n    i = j;\n  }\n  return out;\n}`,
    input: (rng, difficulty) => [
      Array.from({ length: rng.int(1, 3 + 2 * difficulty) }, () =>
        rng.pick(['a', 'b', 'c', 'x', ' ']).repeat(rng.int(1, 4 * difficulty)),
      ).join(''),
    ],
    edges: () => [[''], ['z'], ['aaaaaaaaaaaa']],
  },
  sumOfMultiples: {
    functionName: 'sumOfMultiples',
    parameters: ['n'],
    draw: (rng) => {
      const a = rng.int(2, 9);
      let b = rng.int(2, 9);
      if (b === a) b = a === 9 ? 2 : a + 1;
      return { a, b };
    },
    describe: ({ a, b }) =>
      `Return the sum of all integers k with 0 <= k < n that are divisible by ${a} or by ${b} (n is a non-negative integer).`,
    solution: ({ a, b }) =>
      `function sumOfMultiples(n) {\n  let sum = 0;\n  for (let k = 0; k < n; k++) if (k % ${a} === 0 || k % ${b} === 0) sum += k;\n  return sum;\n}`,
    input: (rng, difficulty) => [rng.int(0, 10 ** (difficulty + 1))],
    edges: () => [[0], [1], [2]],
  },
  isBalanced: {
    functionName: 'isBalanced',
    parameters: ['text'],
    draw: (rng) => ({ pairs: rng.sample(['()', '[]', '{}', '<>'], rng.int(2, 4)).join('') }),
    describe: ({ pairs }) =>
      `Return true when the brackets ${bracketList(String(pairs))} in \`text\` are all matched and properly nested, else false. All other characters (including other bracket kinds) are ignored.`,
    solution: ({ pairs }) =>
      `function isBalanced(text) {\n  const pairs = ${JSON.stringify(pairs)};\n  const stack = [];\n  for (const c of text) {\n    const i = pairs.indexOf(c);\n    if (i < 0) continue;\n    if (i % 2 === 0) stack.push(pairs[i + 1]);\n    else if (stack.pop() !== c) return false;\n  }\n  return stack.length === 0;\n}`,
    input: (rng, difficulty, { pairs }) => [balancedText(rng, String(pairs), 2 + 2 * difficulty)],
    edges: ({ pairs }) => [[''], [String(pairs)[1]!], [String(pairs)[0]!], ['abc']],
  },
  toBase: {
    functionName: 'toBase',
    parameters: ['n'],
    draw: (rng) => ({ base: rng.pick([2, 3, 5, 7, 8, 12, 16, 20, 36]) }),
    describe: ({ base }) =>
      `Write the non-negative integer \`n\` in base ${base}, using the digits 0-9 and then lowercase letters a-z. Return the string (e.g. 0 -> "0").`,
    solution: ({ base }) => `function toBase(n) {\n  return n.toString(${base});\n}`,
    input: (rng, difficulty) => [rng.int(0, 10 ** (2 + 2 * difficulty))],
    edges: ({ base }) => [[0], [1], [Number(base)], [Number(base) - 1]],
  },
  topWords: {
    functionName: 'topWords',
    parameters: ['text'],
    draw: (rng) => ({ k: rng.int(1, 4) }),
    describe: ({ k }) =>
      `Words are maximal runs of letters a-z, compared in lowercase. Return the ${k} most frequent words of \`text\` (lowercase), most frequent first, ties in alphabetical order; fewer if the text has fewer distinct words.`,
    solution: ({ k }) =>
      `function topWords(text) {\n  const counts = new Map();\n  for (const w of text.toLowerCase().match(/[a-z]+/g) || []) counts.set(w, (counts.get(w) || 0) + 1);\n  return [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, ${k}).map((e) => e[0]);\n}`,
    input: (rng, difficulty) => [
      Array.from({ length: rng.int(1, 6 * difficulty) }, () => {
        const word = rng.pick(VOCABULARY);
        return (rng.chance(0.2) ? word.toUpperCase() : word) + rng.pick([' ', ' ', ', ', '. ', '! ']);
      }).join(''),
    ],
    edges: () => [[''], ['...'], ['Sun sun SUN']],
  },
  mergeIntervals: {
    functionName: 'mergeIntervals',
    parameters: ['intervals'],
    draw: (rng) => ({ touching: rng.chance(0.5) }),
    describe: ({ touching }) =>
      `\`intervals\` is an array of [start, end] pairs of integers with start <= end, in any order. Merge the overlapping ones and return the result sorted by start. Intervals that only touch (like [1, 2] and [2, 3]) ${touching ? 'are merged' : 'stay separate'}.`,
    solution: ({ touching }) =>
      `function mergeIntervals(intervals) {\n  const sorted = intervals.map((i) => [i[0], i[1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);\n  const out = [];\n  for (const [s, e] of sorted) {\n    const last = out[out.length - 1];\n    if (last && s ${touching ? '<=' : '<'} last[1]) last[1] = Math.max(last[1], e);\n    else out.push([s, e]);\n  }\n  return out;\n}`,
    input: (rng, difficulty) => [
      Array.from({ length: rng.int(1, 3 * difficulty + 3) }, () => {
        const start = rng.int(0, 20 * difficulty);
        return [start, start + rng.int(0, 6)];
      }),
    ],
    edges: () => [
      [[]],
      [
        [
          [1, 2],
          [2, 3],
        ],
      ],
      [[[5, 5]]],
    ],
  },
  primeFactors: {
    functionName: 'primeFactors',
    parameters: ['n'],
    draw: (rng) => ({ distinct: rng.chance(0.5) }),
    describe: ({ distinct }) =>
      `Return the prime factors of the integer \`n\` (n >= 2) in ascending order, ${distinct ? 'each prime once (e.g. 12 -> [2, 3])' : 'with multiplicity (e.g. 12 -> [2, 2, 3])'}.`,
    solution: ({ distinct }) =>
      `function primeFactors(n) {\n  const out = [];\n  for (let p = 2; p * p <= n; p++) {\n    while (n % p === 0) { ${distinct ? 'if (out[out.length - 1] !== p) out.push(p);' : 'out.push(p);'} n /= p; }\n  }\n  if (n > 1) out.push(n);\n  return out;\n}`,
    input: (rng, difficulty) => [rng.int(2, 10 ** (3 + difficulty))],
    edges: () => [[2], [97], [1024], [360]],
  },
  longestRun: {
    functionName: 'longestRun',
    parameters: ['numbers'],
    draw: (rng) => ({ strict: rng.chance(0.5) }),
    describe: ({ strict }) =>
      `Return the length of the longest contiguous run of \`numbers\` that is ${strict ? 'strictly increasing' : 'non-decreasing'} (0 for an empty array).`,
    solution: ({ strict }) =>
      `function longestRun(numbers) {\n  let best = 0, run = 0;\n  for (let i = 0; i < numbers.length; i++) {\n    run = i > 0 && numbers[i] ${strict ? '>' : '>='} numbers[i - 1] ? run + 1 : 1;\n    if (run > best) best = run;\n  }\n  return best;\n}`,
    input: (rng, difficulty) => [randomInts(rng, rng.int(1, 6 * difficulty), 0, 9)],
    edges: () => [[[]], [[3, 3, 3]], [[1, 2, 3, 4]]],
  },
  spiral: {
    functionName: 'spiral',
    parameters: ['matrix'],
    draw: (rng) => ({ clockwise: rng.chance(0.5) }),
    describe: ({ clockwise }) =>
      `\`matrix\` is an array of rows of equal length. Return its elements in spiral order, starting at the top-left corner and going ${clockwise ? 'right first (clockwise)' : 'down first (counter-clockwise)'}, inwards.`,
    solution: ({ clockwise }) =>
      `function spiral(matrix) {\n  const m = ${clockwise ? 'matrix' : 'matrix.length ? matrix[0].map((_, c) => matrix.map((row) => row[c])) : []'};\n  const out = [];\n  let top = 0, bottom = m.length - 1, left = 0, right = m.length ? m[0].length - 1 : -1;\n  while (top <= bottom && left <= right) {\n    for (let c = left; c <= right; c++) out.push(m[top][c]);\n    for (let r = top + 1; r <= bottom; r++) out.push(m[r][right]);\n    if (top < bottom) for (let c = right - 1; c >= left; c--) out.push(m[bottom][c]);\n    if (left < right) for (let r = bottom - 1; r > top; r--) out.push(m[r][left]);\n    top++; bottom--; left++; right--;\n  }\n  return out;\n}`,
    input: (rng, difficulty) => {
      const rows = rng.int(1, difficulty + 2);
      const columns = rng.int(1, difficulty + 2);
      return [Array.from({ length: rows }, () => randomInts(rng, columns, 0, 99))];
    },
    edges: () => [[[]], [[[1]]], [[[1, 2, 3]]], [[[1], [2], [3]]]],
  },
  roman: {
    functionName: 'roman',
    parameters: ['n'],
    draw: (rng) => ({ lower: rng.chance(0.5) }),
    describe: ({ lower }) =>
      `Convert the integer \`n\` (1 to 3999) to a Roman numeral in ${lower ? 'lowercase' : 'uppercase'} letters with subtractive notation (4 is IV, 9 is IX, 40 is XL, 90 is XC, 400 is CD, 900 is CM).`,
    solution: ({ lower }) =>
      `function roman(n) {\n  const table = [[1000, 'M'], [900, 'CM'], [500, 'D'], [400, 'CD'], [100, 'C'], [90, 'XC'], [50, 'L'], [40, 'XL'], [10, 'X'], [9, 'IX'], [5, 'V'], [4, 'IV'], [1, 'I']];\n  let out = '';\n  for (const [value, letters] of table) while (n >= value) { out += letters; n -= value; }\n  return out${lower ? '.toLowerCase()' : ''};\n}`,
    input: (rng, difficulty) => [rng.int(1, Math.min(3999, 10 ** (difficulty + 1)))],
    edges: () => [[1], [4], [3999], [1994]],
  },
  digitalRoot: {
    functionName: 'digitalRoot',
    parameters: ['n'],
    draw: (rng) => ({ base: rng.pick([2, 3, 7, 8, 10, 12, 16]) }),
    describe: ({ base }) =>
      `Repeatedly replace the non-negative integer \`n\` by the sum of its digits in base ${base} until a single base-${base} digit is left; return that value as a number.`,
    solution: ({ base }) =>
      `function digitalRoot(n) {\n  while (n >= ${base}) {\n    let sum = 0;\n    for (let m = n; m > 0; m = Math.floor(m / ${base})) sum += m % ${base};\n    n = sum;\n  }\n  return n;\n}`,
    input: (rng, difficulty) => [rng.int(0, 10 ** (3 + 2 * difficulty))],
    edges: ({ base }) => [[0], [Number(base) - 1], [Number(base)]],
  },
  groupAnagrams: {
    functionName: 'groupAnagrams',
    parameters: ['words'],
    draw: (rng) => ({ ignoreCase: rng.chance(0.5) }),
    describe: ({ ignoreCase }) =>
      `Group the strings of \`words\` that are anagrams of each other (${ignoreCase ? 'ignoring letter case' : 'letter case matters'}). Return an array of groups; each group keeps its words in input order, and groups are ordered by the position of their first word.`,
    solution: ({ ignoreCase }) =>
      `function groupAnagrams(words) {\n  const groups = new Map();\n  for (const w of words) {\n    const key = [...${ignoreCase ? 'w.toLowerCase()' : 'w'}].sort().join('');\n    if (!groups.has(key)) groups.set(key, []);\n    groups.get(key).push(w);\n  }\n  return [...groups.values()];\n}`,
    input: (rng, difficulty) => {
      const bases = Array.from({ length: rng.int(1, 2 + difficulty) }, () => randomText(rng, rng.int(2, 4), 'abcde'));
      return [
        Array.from({ length: rng.int(1, 3 * difficulty + 2) }, () => {
          const letters = rng.shuffle([...rng.pick(bases)]);
          return letters.map((letter) => (rng.chance(0.2) ? letter.toUpperCase() : letter)).join('');
        }),
      ];
    },
    edges: () => [[[]], [['ab', 'Ba', 'ba']], [['x']]],
  },
  flattenDepth: {
    functionName: 'flattenDepth',
    parameters: ['items'],
    draw: (rng) => ({ depth: rng.int(1, 3) }),
    describe: ({ depth }) =>
      `Flatten the nested arrays in \`items\` by ${depth} level${depth === 1 ? '' : 's'} (arrays nested deeper stay arrays). Return the new array.`,
    solution: ({ depth }) =>
      `function flattenDepth(items, depth = ${depth}) {\n  const out = [];\n  for (const item of items) {\n    if (Array.isArray(item) && depth > 0) out.push(...flattenDepth(item, depth - 1));\n    else out.push(item);\n  }\n  return out;\n}`,
    input: (rng, difficulty) => [nestedArray(rng, 1 + difficulty, 4)],
    edges: () => [[[]], [[[[[1]]]]], [[1, [2, [3, [4]]]]]],
  },
  summaryRanges: {
    functionName: 'summaryRanges',
    parameters: ['numbers'],
    draw: (rng) => ({ separator: rng.pick(['-', '->', '..']) }),
    describe: ({ separator }) =>
      `\`numbers\` is a sorted array of distinct integers. Summarise each maximal run of consecutive integers as "a${separator}b" (or just "a" when the run has one number) and return the array of these strings.`,
    solution: ({ separator }) =>
      `function summaryRanges(numbers) {\n  const out = [];\n  for (let i = 0; i < numbers.length; ) {\n    let j = i;\n    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;\n    out.push(i === j ? String(numbers[i]) : numbers[i] + ${JSON.stringify(separator)} + numbers[j]);\n    i = j + 1;\n  }\n  return out;\n}`,
    input: (rng, difficulty) => {
      const values = new Set(randomInts(rng, rng.int(1, 5 * difficulty + 3), -10, 10 + 10 * difficulty));
      return [[...values].sort((a, b) => a - b)];
    },
    edges: () => [[[]], [[5]], [[-2, -1, 0, 1]]],
  },
};

function randomIntsFixed(length: number): number[] {
  return Array.from({ length }, (_, index) => index + 1);
}

function bracketList(pairs: string): string {
  return (pairs.match(/../g) ?? []).join(' ');
}

function balancedText(rng: Rng, pairs: string, length: number): string {
  const kinds = pairs.match(/../g)!;
  const noise = [...'ab ()[]{}<>'].filter((char) => !pairs.includes(char));
  let text = '';
  const stack: string[] = [];
  for (let i = 0; i < length; i++) {
    if (stack.length > 0 && rng.chance(0.45)) text += stack.pop();
    else if (rng.chance(0.15)) text += rng.pick(noise);
    else {
      const kind = rng.pick(kinds);
      text += kind[0];
      stack.push(kind[1]!);
    }
  }
  while (stack.length > 0) text += stack.pop();
  // Half of the inputs get one character changed, so both answers occur.
  if (rng.chance(0.5) && text.length > 0) {
    const at = rng.int(0, text.length - 1);
    text = text.slice(0, at) + rng.pick([...pairs]) + text.slice(at + 1);
  }
  return text;
}

function nestedArray(rng: Rng, size: number, depth: number): unknown[] {
  return Array.from({ length: rng.int(0, size) }, () =>
    depth > 0 && rng.chance(0.4) ? nestedArray(rng, size, depth - 1) : rng.int(0, 9),
  );
}

const compiled = new Map<string, (...args: unknown[]) => unknown>();

/**
 * The reference function of a solution source. It is our own constant code (with numbers and JSON-quoted
 * strings from the seed filled in), never an agent's, so compiling it on the host is safe; agent code only
 * ever runs in the sandbox.
 */
function referenceFunction(source: string, name: string): (...args: unknown[]) => unknown {
  let fn = compiled.get(source);
  if (!fn) {
    fn = new Function(`'use strict';\n${source}\nreturn ${name};`)() as (...args: unknown[]) => unknown;
    compiled.set(source, fn);
  }
  return fn;
}

/**
 * The canonical text of a value, as the sandbox's `canonical` writes it (prelude.ts): JSON for strings,
 * numbers as written by String (-0 as 0), BigInt with `n`, arrays in order, objects with sorted keys.
 */
export function canonical(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
    .join(',')}}`;
}

function callText(name: string, args: unknown[]): string {
  return `${name}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`;
}

/** All hidden tests of one submission share this many time limits (a function that loops on every input costs this much, not one limit per test). */
export const HIDDEN_TESTS_TIME_LIMITS = 2;

/**
 * Runs a submission against hidden tests in a fresh isolate: the code is loaded once, then each test calls
 * the function with a copy of its arguments under the time limit. All calls together get
 * {@link HIDDEN_TESTS_TIME_LIMITS} time limits; once that is spent, the remaining tests fail without running.
 * A test that kills the isolate (memory) fails; the code is loaded again for the tests after it.
 */
export async function runHiddenTests(
  code: string,
  functionName: string,
  argsList: readonly unknown[][],
  limits: SandboxLimits,
): Promise<{ loadError?: string; outcomes: CallOutcome[] }> {
  const sandbox = await Sandbox.create(limits, { prepareSpare: false });
  try {
    await sandbox.newEpisode(0);
    const loaded = await sandbox.run(code);
    if (loaded.error !== undefined)
      return { loadError: loaded.error, outcomes: argsList.map(() => ({ ok: false, error: loaded.error! })) };
    const budgetMs = HIDDEN_TESTS_TIME_LIMITS * limits.timeLimitMs;
    const end = performance.now() + budgetMs;
    const outcomes: CallOutcome[] = [];
    for (const args of argsList) {
      const remaining = Math.floor(end - performance.now());
      if (remaining < 1) {
        outcomes.push({
          ok: false,
          error: `not run: the hidden tests used their whole time budget (${budgetMs} ms for all of them)`,
        });
        continue;
      }
      const outcome = await sandbox.callFunction(functionName, JSON.stringify(args), remaining);
      if (outcome.stateLost) await sandbox.run(code);
      outcomes.push(outcome.ok ? { ok: true, value: outcome.value } : { ok: false, error: outcome.error });
    }
    return { outcomes };
  } finally {
    await sandbox.close();
  }
}

/** Every family's name, in draw order. */
const FUNCTION_KINDS = Object.keys(FUNCTION_FAMILIES);

export const functionsSuite: CodeSuite<FunctionTask, CallOutcome[]> = {
  difficulties: [1, 5],
  finalTool: 'submit',
  kinds: FUNCTION_KINDS,
  generate(rng, difficulty, kinds = FUNCTION_KINDS) {
    const familyName = rng.pick(kinds);
    const family = FUNCTION_FAMILIES[familyName]!;
    const params = family.draw(rng, difficulty);
    const solution = family.solution(params);
    const reference = referenceFunction(solution, family.functionName);
    const expect = (args: unknown[]) => canonical(reference(...structuredClone(args)));
    const examples = Array.from({ length: difficulty >= 4 ? 2 : 3 }, () => family.input(rng, difficulty, params));
    const randomCount = 5 + 2 * difficulty;
    const argsList = [
      ...family.edges(params),
      ...Array.from({ length: randomCount }, () => family.input(rng, difficulty, params)),
    ];
    const signature = `${family.functionName}(${family.parameters.join(', ')})`;
    const exampleLines = examples.map(
      (args) =>
        `  ${callText(family.functionName, args)} returns ${JSON.stringify(reference(...structuredClone(args)))}`,
    );
    const prompt = [
      `Write a JavaScript function \`${signature}\`.`,
      family.describe(params),
      `Examples:\n${exampleLines.join('\n')}`,
      `Try your code with run(code). When it is ready, submit(code) with the complete function: it runs in a fresh interpreter against ${argsList.length} hidden tests, and the reward is the fraction that pass.`,
    ].join('\n\n');
    return {
      prompt,
      answer: solution,
      difficulty,
      kind: familyName,
      variant: Object.entries(params)
        .map(([name, value]) => `${name}=${value}`)
        .join(','),
      functionName: family.functionName,
      solution,
      tests: argsList.map((args) => ({ args, expected: expect(args) })),
    };
  },
  verify(task, outcomes): Verdict {
    let passed = 0;
    let firstFailure: string | undefined;
    task.tests.forEach((test, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok && outcome.value === test.expected) {
        passed++;
        return;
      }
      if (firstFailure !== undefined) return;
      const call = callText(task.functionName, test.args);
      const got =
        outcome === undefined
          ? 'no result'
          : outcome.ok
            ? `returned ${outcome.value}`
            : `failed: ${outcome.error.split('\n')[0]}`;
      firstFailure = `${call} ${got}; expected ${test.expected}`;
    });
    const total = task.tests.length;
    const success = passed === total;
    const feedback = `${passed}/${total} hidden tests passed.${firstFailure ? ` First failure: ${firstFailure}` : ''}`;
    return { score: total === 0 ? 0 : passed / total, success, feedback };
  },
  async judge(task, code, limits) {
    const { loadError, outcomes } = await runHiddenTests(
      code,
      task.functionName,
      task.tests.map((test) => test.args),
      limits,
    );
    const verdict = this.verify(task, outcomes);
    return loadError === undefined
      ? verdict
      : { ...verdict, feedback: `The submission failed to load: ${loadError.split('\n')[0]}\n${verdict.feedback}` };
  },
  oracle(task): Oracle {
    let step = 0;
    const example = task.tests[task.tests.length - 1]!.args;
    return {
      next() {
        step++;
        if (step === 1)
          return { tool: 'run', args: { code: `${task.solution}\n${callText(task.functionName, example)}` } };
        return { tool: 'submit', args: { code: task.solution } };
      },
    };
  },
};
