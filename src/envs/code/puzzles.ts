/**
 * `code/puzzles-v0` tasks: verifiable puzzles where code helps (InternBootcamp-style). Each kind has a
 * generator with difficulty, a reference solution, and a verifier that accepts ANY correct answer: the
 * verifier checks the puzzle's constraints and optimality, never equality with the reference.
 *
 * Kinds: `arithmetic` (the 24 game, generalised), `sudoku` (4x4, 6x6, 9x9), `shortest-path`, `knapsack`,
 * `scheduling` (precedence constraints, minimum makespan) and `rooms` (interval partitioning).
 */
import type { Oracle } from '../env.js';
import type { Task, Verdict } from '../task.js';
import type { Rng } from '../../core/rng.js';
import type { CodeSuite } from './env.js';

type PuzzleData =
  | { kind: 'arithmetic'; numbers: number[]; target: number }
  | { kind: 'sudoku'; size: number; boxRows: number; boxColumns: number; givens: number[][] }
  | {
      kind: 'shortest-path';
      nodes: string[];
      edges: [string, string, number][];
      from: string;
      to: string;
      best: number;
    }
  | { kind: 'knapsack'; weights: number[]; values: number[]; capacity: number; best: number }
  | { kind: 'scheduling'; durations: number[]; prerequisites: number[][]; best: number }
  | { kind: 'rooms'; meetings: [number, number][]; best: number };

export interface PuzzleTask extends Task {
  kind: PuzzleData['kind'];
  data: PuzzleData;
}

const ACCEPTED: Verdict = { score: 1, success: true, feedback: 'Correct.' };

function rejected(reason: string, reference: string): Verdict {
  return { score: 0, success: false, feedback: `Incorrect: ${reason}. A correct answer: ${reference}` };
}

// ---- arithmetic (24 game) -----------------------------------------------------------------------------

/** An exact fraction over BigInt, normalised (den > 0). */
interface Fraction {
  num: bigint;
  den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y) [x, y] = [y, x % y];
  return x;
}

function fraction(num: bigint, den: bigint): Fraction {
  if (den < 0n) [num, den] = [-num, -den];
  const divisor = gcd(num, den) || 1n;
  return { num: num / divisor, den: den / divisor };
}

function combine(a: Fraction, b: Fraction, operator: string): Fraction | undefined {
  switch (operator) {
    case '+':
      return fraction(a.num * b.den + b.num * a.den, a.den * b.den);
    case '-':
      return fraction(a.num * b.den - b.num * a.den, a.den * b.den);
    case '*':
      return fraction(a.num * b.num, a.den * b.den);
    default:
      return b.num === 0n ? undefined : fraction(a.num * b.den, a.den * b.num);
  }
}

/** An expression over `numbers` (each used once) equal to `target`, or undefined. Exhaustive search. */
export function solveArithmetic(numbers: number[], target: number): string | undefined {
  const goal = fraction(BigInt(target), 1n);
  const search = (items: { value: Fraction; text: string }[]): string | undefined => {
    if (items.length === 1)
      return items[0]!.value.num === goal.num && items[0]!.value.den === goal.den ? items[0]!.text : undefined;
    for (let i = 0; i < items.length; i++) {
      for (let j = 0; j < items.length; j++) {
        if (i === j) continue;
        const rest = items.filter((_, index) => index !== i && index !== j);
        for (const operator of ['+', '-', '*', '/']) {
          // + and * are commutative: try each unordered pair once.
          if ((operator === '+' || operator === '*') && j < i) continue;
          const value = combine(items[i]!.value, items[j]!.value, operator);
          if (!value) continue;
          const found = search([...rest, { value, text: `(${items[i]!.text} ${operator} ${items[j]!.text})` }]);
          if (found) return found;
        }
      }
    }
    return undefined;
  };
  const found = search(numbers.map((n) => ({ value: fraction(BigInt(n), 1n), text: String(n) })));
  return found?.replace(/^\((.*)\)$/, '$1');
}

/** Parses an arithmetic expression (numbers, + - * / x × ÷, parentheses); returns its value and the numbers used. */
export function evaluateExpression(text: string): { value: Fraction; numbers: number[] } {
  const tokens =
    text
      .replace(/[×x]/g, '*')
      .replace(/÷/g, '/')
      .match(/\d+|[-+*/()]|\S/g) ?? [];
  let position = 0;
  const numbers: number[] = [];
  const expression = (): Fraction => {
    let value = term();
    for (;;) {
      const operator = tokens[position];
      if (operator !== '+' && operator !== '-') return value;
      position++;
      value = combine(value, term(), operator)!;
    }
  };
  const term = (): Fraction => {
    let value = factor();
    for (;;) {
      const operator = tokens[position];
      if (operator !== '*' && operator !== '/') return value;
      position++;
      const right = factor();
      const result = combine(value, right, operator);
      if (!result) throw new Error('division by zero');
      value = result;
    }
  };
  const factor = (): Fraction => {
    const token = tokens[position++];
    if (token === '(') {
      const value = expression();
      if (tokens[position++] !== ')') throw new Error('a parenthesis is not closed');
      return value;
    }
    if (token !== undefined && /^\d+$/.test(token)) {
      numbers.push(Number(token));
      return fraction(BigInt(token), 1n);
    }
    throw new Error(token === undefined ? 'the expression ends too early' : `unexpected '${token}'`);
  };
  const value = expression();
  if (position < tokens.length) throw new Error(`unexpected '${tokens[position]}'`);
  return { value, numbers };
}

function randomExpression(rng: Rng, numbers: number[]): { value: Fraction; text: string } | undefined {
  const items = numbers.map((n) => ({ value: fraction(BigInt(n), 1n), text: String(n) }));
  while (items.length > 1) {
    const [i, j] = rng.sample(
      items.map((_, index) => index),
      2,
    ) as [number, number];
    const operator = rng.pick(['+', '-', '*', '/']);
    const value = combine(items[i]!.value, items[j]!.value, operator);
    if (!value) return undefined;
    const text = `(${items[i]!.text} ${operator} ${items[j]!.text})`;
    const rest = items.filter((_, index) => index !== i && index !== j);
    items.length = 0;
    items.push(...rest, { value, text });
  }
  return { value: items[0]!.value, text: items[0]!.text.replace(/^\((.*)\)$/, '$1') };
}

function generateArithmetic(rng: Rng, difficulty: number): { data: PuzzleData; answer: string; prompt: string } {
  const count = difficulty >= 4 ? 5 : 4;
  const maxNumber = [9, 13, 13, 13, 25][difficulty - 1]!;
  for (;;) {
    const numbers = Array.from({ length: count }, () => rng.int(1, maxNumber));
    let target: number;
    let answer: string | undefined;
    if (count === 4) {
      target = difficulty <= 2 ? 24 : rng.int(10 * difficulty, 40 * difficulty);
      answer = solveArithmetic(numbers, target);
    } else {
      // Five numbers: an exhaustive search per draw is slow, so build a random expression and use its value.
      const built = randomExpression(rng, numbers);
      if (
        !built ||
        built.value.den !== 1n ||
        built.value.num < BigInt(10 * difficulty) ||
        built.value.num > BigInt(40 * difficulty)
      )
        continue;
      target = Number(built.value.num);
      answer = built.text;
    }
    if (answer === undefined) continue;
    return {
      data: { kind: 'arithmetic', numbers, target },
      answer,
      prompt: `Use each of the numbers ${numbers.join(', ')} exactly once, with + - * / and parentheses, to make ${target}. Division is exact (fractions allowed in between). Answer with the expression, e.g. answer("(8 - 4) * (7 - 1)").`,
    };
  }
}

function verifyArithmetic(
  data: Extract<PuzzleData, { kind: 'arithmetic' }>,
  submission: string,
  reference: string,
): Verdict {
  let parsed: ReturnType<typeof evaluateExpression>;
  try {
    parsed = evaluateExpression(submission.replace(/=.*$/, ''));
  } catch (error) {
    return rejected(`the expression could not be read (${(error as Error).message})`, reference);
  }
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b).join(',');
  if (sorted(parsed.numbers) !== sorted(data.numbers)) {
    return rejected(
      `it uses the numbers ${parsed.numbers.join(', ') || '(none)'}, not ${data.numbers.join(', ')} each exactly once`,
      reference,
    );
  }
  if (parsed.value.den !== 1n || parsed.value.num !== BigInt(data.target)) {
    const shown = parsed.value.den === 1n ? `${parsed.value.num}` : `${parsed.value.num}/${parsed.value.den}`;
    return rejected(`it equals ${shown}, not ${data.target}`, reference);
  }
  return ACCEPTED;
}

// ---- sudoku -----------------------------------------------------------------------------------------

const SUDOKU_SHAPES = [
  { boxRows: 2, boxColumns: 2, blanks: 6 },
  { boxRows: 2, boxColumns: 2, blanks: 10 },
  { boxRows: 2, boxColumns: 3, blanks: 14 },
  { boxRows: 2, boxColumns: 3, blanks: 22 },
  { boxRows: 3, boxColumns: 3, blanks: 40 },
];

function generateSudoku(rng: Rng, difficulty: number): { data: PuzzleData; answer: string; prompt: string } {
  const { boxRows, boxColumns, blanks } = SUDOKU_SHAPES[difficulty - 1]!;
  const size = boxRows * boxColumns;
  // A valid grid from the standard pattern, then symmetries that keep it valid: relabel digits, shuffle
  // rows within bands, bands, columns within stacks, and stacks.
  const digits = rng.shuffle(Array.from({ length: size }, (_, i) => i + 1));
  const bandOrder = rng.shuffle(Array.from({ length: boxColumns }, (_, i) => i));
  const rows = bandOrder.flatMap((band) => rng.shuffle(Array.from({ length: boxRows }, (_, i) => band * boxRows + i)));
  const stackOrder = rng.shuffle(Array.from({ length: boxRows }, (_, i) => i));
  const columns = stackOrder.flatMap((stack) =>
    rng.shuffle(Array.from({ length: boxColumns }, (_, i) => stack * boxColumns + i)),
  );
  const solution = rows.map((r) =>
    columns.map((c) => digits[(boxColumns * (r % boxRows) + Math.floor(r / boxRows) + c) % size]!),
  );
  const givens = solution.map((row) => [...row]);
  for (const cell of rng.sample(
    Array.from({ length: size * size }, (_, i) => i),
    blanks,
  ))
    givens[Math.floor(cell / size)]![cell % size] = 0;
  const answer = solution.map((row) => row.join('')).join('/');
  const grid = givens.map((row) => row.map((value) => (value === 0 ? '.' : String(value))).join(' ')).join('\n');
  return {
    data: { kind: 'sudoku', size, boxRows, boxColumns, givens },
    answer,
    prompt: `Fill in this ${size}x${size} sudoku (boxes of ${boxRows} rows by ${boxColumns} columns; '.' is empty) so that every row, column and box holds the digits 1-${size} once:\n\n${grid}\n\nAnswer with the ${size} rows of digits separated by '/', e.g. answer("${'1'.repeat(size)}/...").`,
  };
}

function verifySudoku(data: Extract<PuzzleData, { kind: 'sudoku' }>, submission: string, reference: string): Verdict {
  const { size, boxRows, boxColumns, givens } = data;
  const digits = (submission.match(/\d/g) ?? []).map(Number);
  if (digits.length !== size * size)
    return rejected(`the answer has ${digits.length} digits; a ${size}x${size} grid needs ${size * size}`, reference);
  const grid = Array.from({ length: size }, (_, r) => digits.slice(r * size, (r + 1) * size));
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const value = grid[r]![c]!;
      if (value < 1 || value > size)
        return rejected(`row ${r + 1} has the digit ${value}, outside 1-${size}`, reference);
      if (givens[r]![c]! !== 0 && givens[r]![c] !== value)
        return rejected(`row ${r + 1}, column ${c + 1} must stay ${givens[r]![c]}`, reference);
    }
  }
  const groups: [string, number[]][] = [];
  for (let i = 0; i < size; i++) {
    groups.push([`row ${i + 1}`, grid[i]!], [`column ${i + 1}`, grid.map((row) => row[i]!)]);
    const top = Math.floor(i / boxRows) * boxRows;
    const left = (i % boxRows) * boxColumns;
    groups.push([`box ${i + 1}`, grid.slice(top, top + boxRows).flatMap((row) => row.slice(left, left + boxColumns))]);
  }
  for (const [name, values] of groups)
    if (new Set(values).size !== size) return rejected(`${name} repeats a digit`, reference);
  return ACCEPTED;
}

// ---- shortest path ----------------------------------------------------------------------------------

function dijkstra(
  nodes: string[],
  edges: [string, string, number][],
  from: string,
): { distance: Map<string, number>; previous: Map<string, string> } {
  const distance = new Map(nodes.map((node) => [node, Number.POSITIVE_INFINITY]));
  const previous = new Map<string, string>();
  const done = new Set<string>();
  distance.set(from, 0);
  while (done.size < nodes.length) {
    let current: string | undefined;
    for (const node of nodes)
      if (!done.has(node) && (current === undefined || distance.get(node)! < distance.get(current)!)) current = node;
    if (current === undefined || distance.get(current) === Number.POSITIVE_INFINITY) break;
    done.add(current);
    for (const [a, b, weight] of edges) {
      const other = a === current ? b : b === current ? a : undefined;
      if (other === undefined || done.has(other)) continue;
      const candidate = distance.get(current)! + weight;
      // Ties broken by name, so the reference path does not depend on edge order.
      if (
        candidate < distance.get(other)! ||
        (candidate === distance.get(other) && current < (previous.get(other) ?? '~'))
      ) {
        distance.set(other, candidate);
        previous.set(other, current);
      }
    }
  }
  return { distance, previous };
}

function generateShortestPath(rng: Rng, difficulty: number): { data: PuzzleData; answer: string; prompt: string } {
  const count = 4 + 2 * difficulty;
  const nodes = Array.from({ length: count }, (_, i) => String.fromCharCode(65 + i));
  const edges: [string, string, number][] = [];
  const has = (a: string, b: string) => edges.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
  const maxWeight = 5 + 5 * difficulty;
  // A random spanning tree keeps the graph connected; extra edges make alternatives.
  for (let i = 1; i < count; i++) edges.push([nodes[rng.int(0, i - 1)]!, nodes[i]!, rng.int(1, maxWeight)]);
  for (let extra = 0; extra < count; extra++) {
    const [a, b] = rng.sample(nodes, 2) as [string, string];
    if (!has(a, b)) edges.push([a, b, rng.int(1, maxWeight)]);
  }
  const [from, to] = rng.sample(nodes, 2) as [string, string];
  const { distance, previous } = dijkstra(nodes, edges, from);
  const path = [to];
  while (path[0] !== from) path.unshift(previous.get(path[0]!)!);
  const sortedEdges = [...edges].sort((x, y) => (x[0] + x[1]).localeCompare(y[0] + y[1]));
  return {
    data: { kind: 'shortest-path', nodes, edges: sortedEdges, from, to, best: distance.get(to)! },
    answer: path.join('-'),
    prompt: `An undirected graph has these roads (endpoints and length):\n${sortedEdges.map(([a, b, w]) => `${a}-${b}: ${w}`).join('\n')}\n\nFind a shortest route from ${from} to ${to}. Answer with the nodes in order, e.g. answer("${from}-...-${to}").`,
  };
}

function verifyShortestPath(
  data: Extract<PuzzleData, { kind: 'shortest-path' }>,
  submission: string,
  reference: string,
): Verdict {
  const path = submission.toUpperCase().match(/[A-Z]/g) ?? [];
  if (path[0] !== data.from || path[path.length - 1] !== data.to)
    return rejected(`the route must start at ${data.from} and end at ${data.to}`, reference);
  let length = 0;
  for (let i = 1; i < path.length; i++) {
    const edge = data.edges.find(
      ([a, b]) => (a === path[i - 1] && b === path[i]) || (b === path[i - 1] && a === path[i]),
    );
    if (!edge) return rejected(`there is no road ${path[i - 1]}-${path[i]}`, reference);
    length += edge[2];
  }
  if (length !== data.best) return rejected(`the route has length ${length}; the shortest has ${data.best}`, reference);
  return ACCEPTED;
}

// ---- knapsack ---------------------------------------------------------------------------------------

function bestKnapsack(weights: number[], values: number[], capacity: number): { value: number; items: number[] } {
  const best: number[][] = Array.from({ length: weights.length + 1 }, () => new Array<number>(capacity + 1).fill(0));
  for (let i = 1; i <= weights.length; i++) {
    for (let c = 0; c <= capacity; c++) {
      best[i]![c] = best[i - 1]![c]!;
      if (weights[i - 1]! <= c)
        best[i]![c] = Math.max(best[i]![c]!, best[i - 1]![c - weights[i - 1]!]! + values[i - 1]!);
    }
  }
  const items: number[] = [];
  for (let i = weights.length, c = capacity; i > 0; i--) {
    if (best[i]![c] !== best[i - 1]![c]) {
      items.unshift(i);
      c -= weights[i - 1]!;
    }
  }
  return { value: best[weights.length]![capacity]!, items };
}

function generateKnapsack(rng: Rng, difficulty: number): { data: PuzzleData; answer: string; prompt: string } {
  const count = 3 + 2 * difficulty;
  const weights = Array.from({ length: count }, () => rng.int(1, 5 + 5 * difficulty));
  const values = Array.from({ length: count }, () => rng.int(1, 10 + 10 * difficulty));
  const capacity = Math.max(1, Math.floor(weights.reduce((a, b) => a + b, 0) * 0.4));
  const { value, items } = bestKnapsack(weights, values, capacity);
  const table = weights.map((weight, i) => `item ${i + 1}: weight ${weight}, value ${values[i]}`).join('\n');
  return {
    data: { kind: 'knapsack', weights, values, capacity, best: value },
    answer: items.length > 0 ? items.join(',') : 'none',
    prompt: `Choose items with total weight at most ${capacity} and the largest possible total value:\n${table}\n\nAnswer with the item numbers separated by commas, e.g. answer("1,4,5") (or "none").`,
  };
}

function verifyKnapsack(
  data: Extract<PuzzleData, { kind: 'knapsack' }>,
  submission: string,
  reference: string,
): Verdict {
  const items = (submission.match(/\d+/g) ?? []).map(Number);
  if (new Set(items).size !== items.length) return rejected('an item is listed twice', reference);
  const unknown = items.find((item) => item < 1 || item > data.weights.length);
  if (unknown !== undefined) return rejected(`there is no item ${unknown}`, reference);
  const weight = items.reduce((sum, item) => sum + data.weights[item - 1]!, 0);
  const value = items.reduce((sum, item) => sum + data.values[item - 1]!, 0);
  if (weight > data.capacity) return rejected(`the items weigh ${weight}, more than ${data.capacity}`, reference);
  if (value !== data.best) return rejected(`the items are worth ${value}; the best is ${data.best}`, reference);
  return ACCEPTED;
}

// ---- scheduling -------------------------------------------------------------------------------------

function earliestStarts(durations: number[], prerequisites: number[][]): number[] {
  // Prerequisites always point to lower-numbered jobs, so one pass in order is a topological order.
  const starts: number[] = [];
  durations.forEach((_, job) => {
    starts[job] = Math.max(0, ...prerequisites[job]!.map((before) => starts[before]! + durations[before]!));
  });
  return starts;
}

function generateScheduling(rng: Rng, difficulty: number): { data: PuzzleData; answer: string; prompt: string } {
  const count = 3 + 2 * difficulty;
  const durations = Array.from({ length: count }, () => rng.int(1, 9));
  const prerequisites = durations.map((_, job) =>
    job === 0
      ? []
      : rng
          .sample(
            Array.from({ length: job }, (_, i) => i),
            rng.int(0, Math.min(job, 3)),
          )
          .sort((a, b) => a - b),
  );
  const starts = earliestStarts(durations, prerequisites);
  const best = Math.max(...starts.map((start, job) => start + durations[job]!));
  const lines = durations.map(
    (duration, job) =>
      `J${job + 1}: takes ${duration}${prerequisites[job]!.length ? `, after ${prerequisites[job]!.map((p) => `J${p + 1}`).join(', ')}` : ''}`,
  );
  return {
    data: { kind: 'scheduling', durations, prerequisites, best },
    answer: starts.map((start, job) => `J${job + 1}=${start}`).join(', '),
    prompt: `Schedule these jobs (any number can run at once; a job starts only after all the jobs it comes after have finished) so that all are done as early as possible:\n${lines.join('\n')}\n\nAnswer with every job's integer start time, e.g. answer("J1=0, J2=4, ...").`,
  };
}

function verifyScheduling(
  data: Extract<PuzzleData, { kind: 'scheduling' }>,
  submission: string,
  reference: string,
): Verdict {
  const starts = new Map<number, number>();
  for (const [, job, start] of submission.matchAll(/J(\d+)\s*[=:]\s*(\d+)/gi))
    starts.set(Number(job) - 1, Number(start));
  for (let job = 0; job < data.durations.length; job++) {
    if (!starts.has(job)) return rejected(`J${job + 1} has no start time`, reference);
    for (const before of data.prerequisites[job]!) {
      if (starts.get(job)! < starts.get(before)! + data.durations[before]!)
        return rejected(`J${job + 1} starts before J${before + 1} has finished`, reference);
    }
  }
  const end = Math.max(...data.durations.map((duration, job) => starts.get(job)! + duration));
  if (end !== data.best)
    return rejected(`everything is done at ${end}; the earliest possible is ${data.best}`, reference);
  return ACCEPTED;
}

// ---- rooms (interval partitioning) ------------------------------------------------------------------

function assignRooms(meetings: [number, number][]): number[] {
  const order = meetings.map((_, i) => i).sort((a, b) => meetings[a]![0] - meetings[b]![0] || a - b);
  const roomFree: number[] = [];
  const rooms: number[] = [];
  for (const meeting of order) {
    const [start, end] = meetings[meeting]!;
    let room = roomFree.findIndex((free) => free <= start);
    if (room < 0) room = roomFree.push(0) - 1;
    roomFree[room] = end;
    rooms[meeting] = room + 1;
  }
  return rooms;
}

function generateRooms(rng: Rng, difficulty: number): { data: PuzzleData; answer: string; prompt: string } {
  const count = 3 + 3 * difficulty;
  const meetings: [number, number][] = Array.from({ length: count }, () => {
    const start = rng.int(8, 17) * 60 + rng.pick([0, 15, 30, 45]);
    return [start, start + rng.pick([30, 45, 60, 90, 120])];
  });
  const rooms = assignRooms(meetings);
  const time = (minutes: number) =>
    `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  return {
    data: { kind: 'rooms', meetings, best: Math.max(...rooms) },
    answer: rooms.map((room, i) => `M${i + 1}=${room}`).join(', '),
    prompt: `Put these meetings into as few rooms as possible (meetings in one room must not overlap; one may start when another ends):\n${meetings.map(([start, end], i) => `M${i + 1}: ${time(start)}-${time(end)}`).join('\n')}\n\nAnswer with a room number (1, 2, ...) for every meeting, e.g. answer("M1=1, M2=2, ...").`,
  };
}

function verifyRooms(data: Extract<PuzzleData, { kind: 'rooms' }>, submission: string, reference: string): Verdict {
  const rooms = new Map<number, number>();
  for (const [, meeting, room] of submission.matchAll(/M(\d+)\s*[=:]\s*(\d+)/gi))
    rooms.set(Number(meeting) - 1, Number(room));
  for (let i = 0; i < data.meetings.length; i++) if (!rooms.has(i)) return rejected(`M${i + 1} has no room`, reference);
  for (let i = 0; i < data.meetings.length; i++) {
    for (let j = i + 1; j < data.meetings.length; j++) {
      const [a, b] = [data.meetings[i]!, data.meetings[j]!];
      if (rooms.get(i) === rooms.get(j) && a[0] < b[1] && b[0] < a[1])
        return rejected(`M${i + 1} and M${j + 1} overlap in room ${rooms.get(i)}`, reference);
    }
  }
  const used = new Set(rooms.values()).size;
  if (used !== data.best) return rejected(`it uses ${used} rooms; ${data.best} are enough`, reference);
  return ACCEPTED;
}

// ---- the suite --------------------------------------------------------------------------------------

const GENERATORS: Record<
  PuzzleData['kind'],
  (rng: Rng, difficulty: number) => { data: PuzzleData; answer: string; prompt: string }
> = {
  arithmetic: generateArithmetic,
  sudoku: generateSudoku,
  'shortest-path': generateShortestPath,
  knapsack: generateKnapsack,
  scheduling: generateScheduling,
  rooms: generateRooms,
};

/** Every puzzle kind. */
export const PUZZLE_KINDS = Object.keys(GENERATORS) as PuzzleData['kind'][];

export const puzzlesSuite: CodeSuite<PuzzleTask, string> = {
  difficulties: [1, 5],
  finalTool: 'answer',
  kinds: PUZZLE_KINDS,
  generate(rng, difficulty, kinds = PUZZLE_KINDS) {
    const kind = rng.pick(kinds) as PuzzleData['kind'];
    const { data, answer, prompt } = GENERATORS[kind](rng, difficulty);
    return {
      prompt: `${prompt}\n\nYou may compute with run(code) (JavaScript) before answering.`,
      answer,
      difficulty,
      kind,
      data,
    };
  },
  verify(task, submission): Verdict {
    const data = task.data;
    switch (data.kind) {
      case 'arithmetic':
        return verifyArithmetic(data, submission, task.answer);
      case 'sudoku':
        return verifySudoku(data, submission, task.answer);
      case 'shortest-path':
        return verifyShortestPath(data, submission, task.answer);
      case 'knapsack':
        return verifyKnapsack(data, submission, task.answer);
      case 'scheduling':
        return verifyScheduling(data, submission, task.answer);
      case 'rooms':
        return verifyRooms(data, submission, task.answer);
    }
  },
  async judge(task, argument) {
    return this.verify(task, argument);
  },
  oracle(task): Oracle {
    return { next: () => ({ tool: 'answer', args: { value: task.answer } }) };
  },
};
