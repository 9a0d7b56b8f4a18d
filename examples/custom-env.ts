/**
 * Registering your own environment, end to end.
 *
 *   npx turngym run --import ./examples/custom-env.ts --env example/safe-v0 --agent oracle
 *   npx turngym list --import ./examples/custom-env.ts
 *
 * `example/safe-v0`: open a safe with a secret code of digits. `try_code(code)` answers how many digits are
 * right and in the right place; the right code opens the safe and ends the episode. The file shows the
 * three parts of an env: a task suite (generate, verify, oracle), a TaskEnv subclass that carries out tool
 * calls, and a `register` call with a kwargs schema. Run `checkEnv` on it in your tests (see the bottom).
 */
import {
  type EnvSpec,
  type Oracle,
  type Rng,
  register,
  type StepResult,
  type Task,
  TaskEnv,
  type TaskSuite,
  type ToolCall,
  ToolInputError,
  z,
} from 'turngym';

interface SafeTask extends Task {
  code: string;
}

const safeSuite: TaskSuite<SafeTask, string> = {
  difficulties: [1, 6],
  // Difficulty = number of digits. The prompt never contains the code.
  generate(rng: Rng, difficulty: number): SafeTask {
    const code = Array.from({ length: difficulty }, () => rng.int(0, 9)).join('');
    return {
      prompt: `Open the safe: its code has ${difficulty} digit(s). Use try_code(code).`,
      answer: code,
      difficulty,
      code,
    };
  },
  verify(task, submission) {
    const success = submission === task.code;
    return { score: success ? 1 : 0, success };
  },
  // The reference solution: start from all zeros, then find each position's digit from the feedback by
  // changing that position only (the count goes up: found it; down: the old digit was right).
  oracle(task): Oracle {
    const digits = Array.from({ length: task.code.length }, () => 0);
    let position = 0;
    let base: number | undefined;
    let started = false;
    return {
      next(observation) {
        if (started) {
          const count = Number(/^(\d+) digit/.exec(observation.text)?.[1] ?? Number.NaN);
          if (base === undefined)
            base = count; // feedback on the all-zeros code
          else if (count > base) {
            base = count; // the new digit is right here
            position++;
          } else if (count < base) {
            digits[position] = digits[position]! - 1; // the previous digit was right here
            position++;
          }
          if (position < digits.length) digits[position] = digits[position]! + 1;
        }
        started = true;
        return { tool: 'try_code', args: { code: digits.join('') } };
      },
    };
  },
};

class SafeEnv extends TaskEnv<SafeTask> {
  constructor(spec: EnvSpec, difficulty: number) {
    super(spec, safeSuite, difficulty);
  }

  protected async callTool(call: ToolCall, task: SafeTask): Promise<StepResult> {
    const code = String(call.args.code);
    if (code.length !== task.code.length || !/^\d+$/.test(code)) {
      // An agent mistake: an error observation, and the episode goes on.
      throw new ToolInputError(`The code has ${task.code.length} digit(s); got '${code.slice(0, 20)}'.`);
    }
    const verdict = safeSuite.verify(task, code);
    if (verdict.success)
      return {
        observation: { text: 'The safe opens.' },
        reward: 1,
        terminated: true,
        truncated: false,
        info: { success: true },
      };
    const right = [...code].filter((digit, i) => digit === task.code[i]).length;
    return {
      observation: { text: `${right} digit(s) right and in the right place.` },
      reward: 0,
      terminated: false,
      truncated: false,
      info: {},
    };
  }
}

export const safeSpec = register({
  id: 'example/safe-v0',
  description: 'Open a safe by trying codes; each try says how many digits are right.',
  tools: [
    {
      name: 'try_code',
      description: 'Try a code. Answers how many digits are right and in the right place.',
      parameters: z.object({ code: z.string().describe('The digits to try, e.g. "042"') }),
    },
  ],
  maxTurns: 40,
  kwargs: z.object({ difficulty: z.number().int().min(1).max(6).default(2).describe('Number of digits') }),
  // Clients of `turngym serve` may choose the difficulty (it names no host resource); kwargs left out here
  // are set only by the server's operator.
  remoteKwargs: { difficulty: true },
  create: (kwargs, spec) => new SafeEnv(spec, kwargs.difficulty),
});

// In your tests:
//   import { make, checkEnv } from 'turngym';
//   import './custom-env.js';
//   const report = await checkEnv(await make('example/safe-v0'));
//   expect(report.failures).toEqual([]);
