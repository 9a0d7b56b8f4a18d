/**
 * `puzzle/guess-number-v0`: find a hidden integer with `guess(n)`; each guess is answered "higher", "lower"
 * or "correct". Difficulty d sets the range to 1..2^(d+2), so an optimal player needs about d+2 guesses: the
 * smallest real testbed for horizon curricula and information-gain rewards.
 */
import { z } from 'zod';
import type { EnvSpec, Oracle, StepResult, ToolCall, ToolSpec } from '../env.js';
import { type Task, TaskEnv, type TaskSuite, type Verdict } from '../task.js';
import { type Rng } from '../../core/rng.js';
import { ToolInputError } from '../../core/errors.js';

export interface GuessNumberTask extends Task {
  low: number;
  high: number;
  secret: number;
}

export const guessNumberTools: ToolSpec[] = [
  {
    name: 'guess',
    description: 'Guess the hidden integer. Answers "higher", "lower" or "correct"; a correct guess ends the episode.',
    parameters: z.object({ n: z.number().int().describe('The integer to guess') }),
  },
];

/** Upper end of the range for a difficulty. */
export function rangeHigh(difficulty: number): number {
  return 2 ** (difficulty + 2);
}

export const guessNumberSuite: TaskSuite<GuessNumberTask, number> = {
  difficulties: [1, 12],
  generate(rng: Rng, difficulty: number): GuessNumberTask {
    const high = rangeHigh(difficulty);
    const secret = rng.int(1, high);
    return {
      prompt: `I am thinking of an integer from 1 to ${high}. Find it with guess(n); I will answer higher, lower or correct.`,
      answer: String(secret),
      difficulty,
      low: 1,
      high,
      secret,
    };
  },
  verify(task: GuessNumberTask, submission: number): Verdict {
    const success = submission === task.secret;
    return { score: success ? 1 : 0, success };
  },
  oracle(task: GuessNumberTask): Oracle {
    // Binary search, narrowing the interval with the answers it gets, as a careful player would.
    let low = task.low;
    let high = task.high;
    let last: number | undefined;
    return {
      next(observation) {
        if (last !== undefined) {
          if (/higher/i.test(observation.text)) low = last + 1;
          else if (/lower/i.test(observation.text)) high = last - 1;
        }
        last = Math.floor((low + high) / 2);
        return { tool: 'guess', args: { n: last } };
      },
    };
  },
};

export class GuessNumberEnv extends TaskEnv<GuessNumberTask> {
  constructor(spec: EnvSpec, difficulty: number) {
    super(spec, guessNumberSuite, difficulty);
  }

  protected async callTool(call: ToolCall, task: GuessNumberTask): Promise<StepResult> {
    const n = call.args.n as number;
    if (n < task.low || n > task.high) {
      throw new ToolInputError(`${n} is outside the range ${task.low} to ${task.high}; guess a number in it.`);
    }
    const verdict = guessNumberSuite.verify(task, n);
    if (verdict.success) {
      return {
        observation: { text: `${n} is correct!` },
        reward: verdict.score,
        terminated: true,
        truncated: false,
        info: { success: true },
      };
    }
    const hint = n < task.secret ? 'higher' : 'lower';
    return { observation: { text: `${n}: ${hint}.` }, reward: 0, terminated: false, truncated: false, info: {} };
  }
}
