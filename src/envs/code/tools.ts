/** Tools and keyword arguments of the `code/` envs (cheap to import: no isolated-vm here). */
import { z } from 'zod';
import type { ToolSpec } from '../env.js';

export const runTool: ToolSpec = {
  name: 'run',
  description:
    'Run JavaScript in your interpreter. Variables and functions persist across calls; console.log output is shown, then the value of the last expression (promises are awaited). No require, import, network or files.',
  parameters: z.object({ code: z.string().describe('JavaScript source, e.g. "let n = 10n ** 20n; n % 7n"') }),
};

export const answerTool: ToolSpec = {
  name: 'answer',
  description: 'Give your final answer (ends the episode). Write just the value, e.g. 42, 2024-03-01 or Tuesday.',
  parameters: z.object({ value: z.string().describe('The final answer, exactly as asked (no units, no explanation)') }),
};

export const submitTool: ToolSpec = {
  name: 'submit',
  description:
    'Submit your implementation (ends the episode). It runs in a fresh interpreter against hidden tests; the reward is the fraction passed.',
  parameters: z.object({ code: z.string().describe('JavaScript source that defines the requested function') }),
};

/** Sandbox limits, shared by every `code/` env. */
export const limitKwargs = {
  timeLimitMs: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(1000)
    .describe('Wall-clock limit per call in ms; default 1000'),
  memoryLimitMb: z
    .number()
    .int()
    .min(8)
    .max(4096)
    .default(64)
    .describe('Heap limit of the interpreter in MB; default 64'),
  maxOutputChars: z
    .number()
    .int()
    .min(64)
    .max(1_000_000)
    .default(4096)
    .describe('Console output shown per call, in characters; default 4096'),
  maxCodeChars: z
    .number()
    .int()
    .min(16)
    .max(1_000_000)
    .default(20_000)
    .describe('Largest accepted code, in characters; default 20000'),
};

/**
 * What a remote client may set on a `code/` env: the task, never the sandbox limits (they bound the
 * server's memory and time, so they are the operator's). An agent names at most 64 kinds.
 */
export const codeRemoteKwargs = {
  difficulty: true,
  kinds: z.array(z.string().max(64)).min(1).max(64),
} as const;

/** `difficulty`, `kinds` and the sandbox limits. */
export function codeKwargs(defaultDifficulty: number) {
  return z.object({
    difficulty: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(defaultDifficulty)
      .describe(`Task difficulty 1-5; default ${defaultDifficulty}`),
    kinds: z
      .array(z.string())
      .min(1)
      .optional()
      .describe(
        'Draw tasks only of these kinds (calc and functions families, puzzle kinds; reset reports info.kind), e.g. ["collatz", "weekday"]; default all; an unknown name is refused with the list',
      ),
    ...limitKwargs,
  });
}
