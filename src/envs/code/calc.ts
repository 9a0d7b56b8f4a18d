/**
 * `code/calc-v0` tasks: questions whose answer needs computation (number theory, exact BigInt
 * combinatorics, string and date processing, simulations). Each family computes the ground truth on the
 * host and carries a JavaScript solution for the oracle, which runs it in the sandbox and answers with the
 * value it prints: two independent computations that the oracle test checks against each other.
 */
import type { Oracle } from '../env.js';
import type { Task, Verdict } from '../task.js';
import type { Rng } from '../../core/rng.js';
import type { CodeSuite } from './env.js';

export interface CalcTask extends Task {
  /** The family (a key of the calculation families). */
  kind: string;
  /** JavaScript whose last expression is the answer (the oracle runs it). */
  solution: string;
}

interface Question {
  prompt: string;
  answer: string;
  solution: string;
}

type Family = (rng: Rng, difficulty: number) => Question;

// ---- number theory --------------------------------------------------------------------------------

function sieve(limit: number): Uint8Array {
  const composite = new Uint8Array(limit + 1);
  composite[0] = 1;
  if (limit >= 1) composite[1] = 1;
  for (let i = 2; i * i <= limit; i++) if (!composite[i]) for (let j = i * i; j <= limit; j += i) composite[j] = 1;
  return composite;
}

const primeSum: Family = (rng, difficulty) => {
  const limit = rng.int(10 ** difficulty, 10 ** (difficulty + 1)) + 100;
  const composite = sieve(limit - 1);
  let sum = 0;
  for (let i = 2; i < limit; i++) if (!composite[i]) sum += i;
  return {
    prompt: `What is the sum of all prime numbers below ${limit}?`,
    answer: String(sum),
    solution: `const N = ${limit};\nconst composite = new Uint8Array(N);\nlet sum = 0;\nfor (let i = 2; i < N; i++) {\n  if (composite[i]) continue;\n  sum += i;\n  for (let j = i * i; j < N; j += i) composite[j] = 1;\n}\nsum`,
  };
};

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

const modularPower: Family = (rng, difficulty) => {
  const base = BigInt(rng.int(2, 10 ** Math.min(9, 2 + difficulty)));
  const exponent = BigInt(rng.int(10, 10 ** Math.min(9, 2 * difficulty + 1))) * BigInt(rng.int(1, 1000));
  const modulus = BigInt(
    rng.pick([1_000_000_007, 998_244_353, 1_000_000_009, rng.int(1000, 10 ** Math.min(9, 3 + difficulty))]),
  );
  return {
    prompt: `What is ${base}^${exponent} mod ${modulus}? (The power is exact; take the remainder at the end.)`,
    answer: String(modPow(base, exponent, modulus)),
    solution: `function modPow(b, e, m) {\n  let r = 1n; b %= m;\n  while (e > 0n) { if (e & 1n) r = r * b % m; b = b * b % m; e >>= 1n; }\n  return r;\n}\nmodPow(${base}n, ${exponent}n, ${modulus}n)`,
  };
};

function totient(n: number): number {
  let result = n;
  let rest = n;
  for (let p = 2; p * p <= rest; p++) {
    if (rest % p === 0) {
      while (rest % p === 0) rest /= p;
      result -= result / p;
    }
  }
  if (rest > 1) result -= result / rest;
  return result;
}

const eulerTotient: Family = (rng, difficulty) => {
  const n = rng.int(10 ** (difficulty + 1), 10 ** (difficulty + 2));
  return {
    prompt: `How many integers from 1 to ${n} are coprime to ${n} (Euler's totient of ${n})?`,
    answer: String(totient(n)),
    solution: `let n = ${n}, result = n;\nfor (let p = 2; p * p <= n; p++) {\n  if (n % p === 0) { while (n % p === 0) n /= p; result -= result / p; }\n}\nif (n > 1) result -= result / n;\nresult`,
  };
};

// ---- BigInt combinatorics ---------------------------------------------------------------------------

function binomial(n: number, k: number): bigint {
  let result = 1n;
  for (let i = 1; i <= k; i++) result = (result * BigInt(n - k + i)) / BigInt(i);
  return result;
}

const choose: Family = (rng, difficulty) => {
  const n = rng.int(20 * difficulty, 80 * difficulty);
  const k = rng.int(2, Math.floor(n / 2));
  return {
    prompt: `In how many ways can ${k} items be chosen from ${n} distinct items (order does not matter)? Give the exact integer.`,
    answer: String(binomial(n, k)),
    solution: `let r = 1n;\nfor (let i = 1n; i <= ${k}n; i++) r = r * (${n}n - ${k}n + i) / i;\nr`,
  };
};

const factorialDigits: Family = (rng, difficulty) => {
  const n = rng.int(10 * difficulty, 150 * difficulty);
  let factorial = 1n;
  for (let i = 2n; i <= BigInt(n); i++) factorial *= i;
  const digits = [...factorial.toString()].reduce((sum, digit) => sum + Number(digit), 0);
  return {
    prompt: `What is the sum of the decimal digits of ${n}! (${n} factorial)?`,
    answer: String(digits),
    solution: `let f = 1n;\nfor (let i = 2n; i <= ${n}n; i++) f *= i;\n[...f.toString()].reduce((s, d) => s + Number(d), 0)`,
  };
};

const fibonacci: Family = (rng, difficulty) => {
  const n = rng.int(50 * difficulty, 200 * difficulty);
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return {
    prompt: `With F(0) = 0, F(1) = 1 and F(n) = F(n-1) + F(n-2), what is F(${n})? Give the exact integer.`,
    answer: String(a),
    solution: `let a = 0n, b = 1n;\nfor (let i = 0; i < ${n}; i++) [a, b] = [b, a + b];\na`,
  };
};

// ---- strings -----------------------------------------------------------------------------------------

const WORDS = [
  'apple',
  'river',
  'stone',
  'cloud',
  'tiger',
  'lemon',
  'forest',
  'candle',
  'mirror',
  'garden',
  'rocket',
  'violet',
  'anchor',
  'bridge',
  'copper',
  'desert',
];

const wordCount: Family = (rng, difficulty) => {
  const vocabulary = rng.sample(WORDS, 4 + difficulty * 2);
  const words = Array.from({ length: 20 * difficulty ** 2 + rng.int(0, 20) }, () => rng.pick(vocabulary));
  const target = rng.pick(vocabulary);
  const text = words.join(' ');
  return {
    prompt: `How many times does the word "${target}" occur in the following text?\n\n${text}`,
    answer: String(words.filter((word) => word === target).length),
    solution: `const text = ${JSON.stringify(text)};\ntext.split(' ').filter((w) => w === ${JSON.stringify(target)}).length`,
  };
};

function shiftLetters(text: string, shift: number): string {
  return text.replace(/[a-z]/g, (letter) => String.fromCharCode(((letter.charCodeAt(0) - 97 + shift + 26) % 26) + 97));
}

const caesar: Family = (rng, difficulty) => {
  const plain = Array.from({ length: 2 + difficulty }, () => rng.pick(WORDS)).join(' ');
  const shift = rng.int(1, 25);
  const cipher = shiftLetters(plain, shift);
  return {
    prompt: `The text "${cipher}" was encrypted by shifting every letter ${shift} places forward in the alphabet (wrapping z to a). What is the original text?`,
    answer: plain,
    solution: `${JSON.stringify(cipher)}.replace(/[a-z]/g, (c) => String.fromCharCode((c.charCodeAt(0) - 97 - ${shift} + 26) % 26 + 97))`,
  };
};

const palindromes: Family = (rng, difficulty) => {
  const low = rng.int(10, 10 ** (difficulty + 1));
  const high = low + rng.int(100, 10 ** (Math.min(difficulty, 3) + 2));
  let count = 0;
  for (let n = low; n <= high; n++) {
    const text = String(n);
    if (text === [...text].reverse().join('')) count++;
  }
  return {
    prompt: `How many integers from ${low} to ${high} (inclusive) read the same forwards and backwards in decimal?`,
    answer: String(count),
    solution: `let count = 0;\nfor (let n = ${low}; n <= ${high}; n++) { const s = String(n); if (s === [...s].reverse().join('')) count++; }\ncount`,
  };
};

// ---- dates -------------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function randomDate(rng: Rng, spanYears: number): number {
  const year = rng.int(2000 - spanYears, 2000 + spanYears);
  return Date.UTC(year, rng.int(0, 11), rng.int(1, 28));
}

function isoDate(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

const daysBetween: Family = (rng, difficulty) => {
  const first = randomDate(rng, 10 * difficulty);
  const second = randomDate(rng, 10 * difficulty);
  const [from, to] = first <= second ? [first, second] : [second, first];
  return {
    prompt: `How many days are there from ${isoDate(from)} to ${isoDate(to)}? (Count the days between them: from a date to the next day is 1.)`,
    answer: String(Math.round((to - from) / DAY_MS)),
    solution: `(Date.UTC(${new Date(to).getUTCFullYear()}, ${new Date(to).getUTCMonth()}, ${new Date(to).getUTCDate()}) - Date.UTC(${new Date(from).getUTCFullYear()}, ${new Date(from).getUTCMonth()}, ${new Date(from).getUTCDate()})) / 86400000`,
  };
};

const weekday: Family = (rng, difficulty) => {
  const date = randomDate(rng, 40 * difficulty);
  return {
    prompt: `On which day of the week did (or will) ${isoDate(date)} fall? Answer with the English name, e.g. Monday.`,
    answer: WEEKDAYS[new Date(date).getUTCDay()]!,
    solution: `${JSON.stringify(WEEKDAYS)}[new Date(${JSON.stringify(isoDate(date))} + 'T00:00:00Z').getUTCDay()]`,
  };
};

const addDays: Family = (rng, difficulty) => {
  const date = randomDate(rng, 20);
  const days = rng.int(10, 400 * difficulty ** 2);
  return {
    prompt: `What date is ${days} days after ${isoDate(date)}? Answer as YYYY-MM-DD.`,
    answer: isoDate(date + days * DAY_MS),
    solution: `new Date(Date.parse(${JSON.stringify(isoDate(date))}) + ${days} * 86400000).toISOString().slice(0, 10)`,
  };
};

const fridayThirteenths: Family = (rng, difficulty) => {
  const start = rng.int(1950, 2050);
  const end = start + rng.int(1, 5 * difficulty);
  let count = 0;
  for (let year = start; year <= end; year++)
    for (let month = 0; month < 12; month++) if (new Date(Date.UTC(year, month, 13)).getUTCDay() === 5) count++;
  return {
    prompt: `How many months from January ${start} to December ${end} (inclusive) have a Friday the 13th?`,
    answer: String(count),
    solution: `let count = 0;\nfor (let y = ${start}; y <= ${end}; y++) for (let m = 0; m < 12; m++) if (new Date(Date.UTC(y, m, 13)).getUTCDay() === 5) count++;\ncount`,
  };
};

// ---- simulations -------------------------------------------------------------------------------------

const collatz: Family = (rng, difficulty) => {
  const limit = rng.int(100 * 4 ** difficulty, 200 * 4 ** difficulty);
  let best = 1;
  let bestSteps = 0;
  for (let start = 1; start < limit; start++) {
    let n = start;
    let steps = 0;
    while (n !== 1) {
      n = n % 2 === 0 ? n / 2 : 3 * n + 1;
      steps++;
    }
    if (steps > bestSteps) {
      best = start;
      bestSteps = steps;
    }
  }
  return {
    prompt: `The Collatz step maps n to n/2 if n is even and to 3n+1 if n is odd. Which starting number below ${limit} takes the most steps to reach 1? (If several tie, the smallest.)`,
    answer: String(best),
    solution: `let best = 1, bestSteps = 0;\nfor (let s = 1; s < ${limit}; s++) {\n  let n = s, steps = 0;\n  while (n !== 1) { n = n % 2 === 0 ? n / 2 : 3 * n + 1; steps++; }\n  if (steps > bestSteps) { best = s; bestSteps = steps; }\n}\nbest`,
  };
};

const lcg: Family = (rng, difficulty) => {
  const a = rng.int(2, 10_000);
  const c = rng.int(1, 10_000);
  const m = rng.int(10_000, 1_000_000);
  const seed = rng.int(0, m - 1);
  const steps = rng.int(10, 2 * 10 ** (difficulty + 1));
  let x = seed;
  for (let i = 0; i < steps; i++) x = (a * x + c) % m;
  return {
    prompt: `A generator starts at x = ${seed} and repeats x = (${a} * x + ${c}) mod ${m}. What is x after ${steps} steps?`,
    answer: String(x),
    solution: `let x = ${seed};\nfor (let i = 0; i < ${steps}; i++) x = (${a} * x + ${c}) % ${m};\nx`,
  };
};

const josephus: Family = (rng, difficulty) => {
  const n = rng.int(5, 10 ** (difficulty + 1));
  const k = rng.int(2, 10);
  let survivor = 0;
  for (let size = 2; size <= n; size++) survivor = (survivor + k) % size;
  return {
    prompt: `${n} people stand in a circle, numbered 1 to ${n}. Counting starts at person 1; every ${k === 2 ? '2nd' : k === 3 ? '3rd' : `${k}th`} person is removed, and counting goes on from the next one. Which number is the last one left?`,
    answer: String(survivor + 1),
    solution: `let s = 0;\nfor (let size = 2; size <= ${n}; size++) s = (s + ${k}) % size;\ns + 1`,
  };
};

/** Every calc family by name. */
export const CALC_FAMILIES: Record<string, Family> = {
  'prime-sum': primeSum,
  'modular-power': modularPower,
  'euler-totient': eulerTotient,
  binomial: choose,
  'factorial-digits': factorialDigits,
  fibonacci,
  'word-count': wordCount,
  caesar,
  palindromes,
  'days-between': daysBetween,
  weekday,
  'add-days': addDays,
  'friday-13th': fridayThirteenths,
  collatz,
  lcg,
  josephus,
};

/** A value as written, without a leading `=>`, surrounding quotes or a BigInt's trailing `n`. */
export function unquote(value: string): string {
  let text = value.trim();
  if (text.startsWith('=>')) text = text.slice(2).trim();
  const quoted = /^(['"`])([\s\S]*)\1$/.exec(text);
  if (quoted) text = quoted[2]!;
  if (/^-?\d+n$/.test(text)) text = text.slice(0, -1);
  return text;
}

/** Normalises an answer's formatting only (see `unquote`; also whitespace runs and letter case). */
export function normalizeAnswer(value: string): string {
  return unquote(value).replace(/\s+/g, ' ').toLowerCase();
}

/** Reads the value shown after `=>` in a `run` observation (what the oracle answers). */
export function shownValue(observation: string): string {
  const line = observation.split('\n').find((text) => text.startsWith('=> '));
  return line === undefined ? '' : unquote(line);
}

/** Every family's name, in draw order. */
const CALC_KINDS = Object.keys(CALC_FAMILIES);

export const calcSuite: CodeSuite<CalcTask, string> = {
  difficulties: [1, 5],
  finalTool: 'answer',
  kinds: CALC_KINDS,
  generate(rng, difficulty, kinds = CALC_KINDS) {
    const family = rng.pick(kinds);
    const question = CALC_FAMILIES[family]!(rng, difficulty);
    return {
      prompt: `${question.prompt}\n\nUse run(code) to compute with JavaScript (BigInt and Date are available), then answer(value) with the exact result.`,
      answer: question.answer,
      solution: question.solution,
      difficulty,
      kind: family,
    };
  },
  verify(task, submission): Verdict {
    const success = normalizeAnswer(submission) === normalizeAnswer(task.answer);
    return {
      score: success ? 1 : 0,
      success,
      feedback: success ? 'Correct.' : `Incorrect. The answer was ${task.answer}.`,
    };
  },
  async judge(task, argument) {
    return this.verify(task, argument);
  },
  oracle(task): Oracle {
    let ran = false;
    return {
      next(observation) {
        if (!ran) {
          ran = true;
          return { tool: 'run', args: { code: task.solution } };
        }
        return { tool: 'answer', args: { value: shownValue(observation.text) } };
      },
    };
  },
};
