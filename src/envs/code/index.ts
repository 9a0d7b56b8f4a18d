/**
 * Registers the `code/` family: JavaScript interpreters sandboxed with isolated-vm. The env modules (and
 * isolated-vm, a native module) load on the first `make`, so importing the registry stays cheap.
 */
import type { EnvSpec } from '../env.js';
import { registerBuiltin } from '../registry.js';
import type { Task } from '../task.js';
import type { CodeSuite } from './env.js';
import type { SandboxLimits } from './sandbox.js';
import { answerTool, codeKwargs, codeRemoteKwargs, runTool, submitTool } from './tools.js';

type CodeKwargs = SandboxLimits & { difficulty: number; kinds?: string[] };

function limitsOf(kwargs: CodeKwargs): SandboxLimits {
  return {
    timeLimitMs: kwargs.timeLimitMs,
    memoryLimitMb: kwargs.memoryLimitMb,
    maxOutputChars: kwargs.maxOutputChars,
    maxCodeChars: kwargs.maxCodeChars,
  };
}

const SUITES = {
  calc: async () => (await import('./calc.js')).calcSuite,
  functions: async () => (await import('./functions.js')).functionsSuite,
  puzzles: async () => (await import('./puzzles.js')).puzzlesSuite,
};

async function createEnv(suiteName: keyof typeof SUITES, kwargs: CodeKwargs, spec: EnvSpec) {
  const [{ CodeTaskEnv, restrictKinds }, suite] = await Promise.all([import('./env.js'), SUITES[suiteName]()]);
  return new CodeTaskEnv(
    spec,
    restrictKinds(suite as CodeSuite<Task>, kwargs.kinds, spec.id),
    kwargs.difficulty,
    limitsOf(kwargs),
  );
}

export const calcV0 = registerBuiltin({
  id: 'code/calc-v0',
  description:
    'Questions that need computation (number theory, BigInt combinatorics, strings, dates, simulations); run JavaScript, then answer exactly.',
  tools: [runTool, answerTool],
  maxTurns: 8,
  kwargs: codeKwargs(2),
  remoteKwargs: codeRemoteKwargs,
  create: (kwargs, spec) => createEnv('calc', kwargs, spec),
});

export const functionsV0 = registerBuiltin({
  id: 'code/functions-v0',
  description:
    'Implement a JavaScript function from a spec with examples; the submission runs against hidden tests (reward = fraction passed).',
  tools: [runTool, submitTool],
  // The submission is the final answer (information gain scores the reference solution as submit(code)).
  answerTool: 'submit',
  maxTurns: 10,
  kwargs: codeKwargs(2),
  remoteKwargs: codeRemoteKwargs,
  create: (kwargs, spec) => createEnv('functions', kwargs, spec),
});

export const puzzlesV0 = registerBuiltin({
  id: 'code/puzzles-v0',
  description:
    'Verifiable puzzles where code helps (24 game, sudoku, shortest path, knapsack, scheduling, rooms); any correct answer is accepted.',
  tools: [runTool, answerTool],
  maxTurns: 8,
  kwargs: codeKwargs(2),
  remoteKwargs: codeRemoteKwargs,
  create: (kwargs, spec) => createEnv('puzzles', kwargs, spec),
});
