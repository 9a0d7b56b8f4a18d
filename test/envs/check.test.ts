import { describe, expect, it } from 'vitest';
import { formatTranscript, runEpisode, successRate } from '../../src/agent/agent.js';
import { OracleAgent } from '../../src/agent/baselines.js';
import { summarise } from '../../src/cli/run.js';
import { checkEnv } from '../../src/envs/check.js';
import type { EnvSpec, StepResult, ToolCall } from '../../src/envs/env.js';
import { make, register } from '../../src/envs/registry.js';
import { type Task, TaskEnv, type TaskSuite } from '../../src/envs/task.js';
import { type Rng } from '../../src/core/rng.js';
import { ToolInputError } from '../../src/core/errors.js';
import { z } from 'zod';

/** Say the secret word: an env whose faults are chosen by its kwargs. */
interface SecretTask extends Task {
  word: string;
}
const WORDS = ['amber', 'birch', 'cobalt', 'dune', 'ember', 'fjord', 'garnet', 'heron'];
const suite: TaskSuite<SecretTask, string> = {
  difficulties: [1, 1],
  generate: (rng: Rng, difficulty: number) => {
    const word = rng.pick(WORDS);
    return {
      prompt: `Say the secret word, one of ${WORDS.length} colours and places.`,
      answer: word,
      difficulty,
      word,
    };
  },
  verify: (task, submission) => ({ score: submission === task.word ? 1 : 0, success: submission === task.word }),
  // A careful player: tries a wrong word first (as the feedback fault needs a step before the last).
  oracle: (task) => {
    let tried = false;
    return {
      next: () => {
        const word = tried ? task.word : WORDS.find((other) => other !== task.word)!;
        tried = true;
        return { tool: 'say', args: { word } };
      },
    };
  },
};
const faults = z.object({
  leak: z.enum(['none', 'prompt', 'info', 'feedback']).default('none'),
  scored: z.boolean().default(true),
});
type Faults = z.output<typeof faults>;

class SecretEnv extends TaskEnv<SecretTask> {
  constructor(
    spec: EnvSpec,
    private readonly faults: Faults,
  ) {
    super(spec, suite, 1);
  }

  protected override async startEpisode(task: SecretTask) {
    return this.faults.leak === 'prompt'
      ? { text: `${task.prompt} (It is ${task.word}.)` }
      : this.faults.leak === 'info'
        ? { info: { debug: { word: task.word } } }
        : {};
  }

  protected async callTool(call: ToolCall, task: SecretTask): Promise<StepResult> {
    const word = String(call.args.word);
    if (!WORDS.includes(word)) throw new ToolInputError(`'${word}' is not one of the words.`);
    const verdict = suite.verify(task, word);
    if (!verdict.success)
      return {
        observation: { text: 'Wrong; try again.' },
        reward: 0,
        terminated: false,
        truncated: false,
        info: this.faults.leak === 'feedback' ? { expected: task.word } : {},
      };
    return {
      observation: { text: 'Right.' },
      reward: 1,
      terminated: true,
      truncated: false,
      info: this.faults.scored ? { success: true } : {},
    };
  }
}

register({
  id: 'test/secret-v0',
  description: 'Say the secret word.',
  tools: [{ name: 'say', description: 'Say a word.', parameters: z.object({ word: z.string().describe('The word') }) }],
  maxTurns: 3,
  kwargs: faults,
  create: (kwargs, spec) => new SecretEnv(spec, kwargs),
});

describe('checkEnv', () => {
  it('passes an env that keeps its answer to itself and says when a task is solved', async () => {
    expect((await checkEnv(await make('test/secret-v0'))).failures).toEqual([]);
  });

  it('says that info.success is never set, and how to set it, where the oracle ends its task without it', async () => {
    const report = await checkEnv(await make('test/secret-v0', { scored: false }));
    expect(report.failures).toEqual([
      "episode ends and stepping after the end is a typed error: the oracle's last step ended the task without info.success: set info.success to true or false on every step that ends a task (in a TaskEnv's callTool, from suite.verify(task, submission).success); without it turngym cannot tell a solved task from a failed one, and reports success as unknown (docs/writing-an-env.md, 'How success is decided')",
    ]);
  });

  it("finds the ground truth in the first observation, in reset's info, or in the info of a step before the last", async () => {
    for (const [leak, where] of [
      ['prompt', 'the first observation'],
      ['info', "reset's info"],
      ['feedback', "info of the oracle's step 1"],
    ] as const) {
      const report = await checkEnv(await make('test/secret-v0', { leak }));
      expect(report.failures, leak).toHaveLength(1);
      expect(report.failures[0], leak).toMatch(
        new RegExp(
          `^ground truth stays out of observations and info: seed 0: ${where} contains the ground-truth answer "\\w+"`,
        ),
      );
    }
  });
});

describe('successRate', () => {
  it('is unknown (null), not 0, for episodes of an env that never sets info.success', async () => {
    const env = await make('test/secret-v0', { scored: false });
    const transcripts = [
      await runEpisode(env, new OracleAgent(), { seed: 1 }),
      await runEpisode(env, new OracleAgent(), { seed: 2 }),
    ];
    await env.close();
    expect(transcripts.map((t) => [t.success, t.unscored, t.return])).toEqual([
      [false, true, 1],
      [false, true, 1],
    ]);
    expect(successRate(transcripts)).toBeNull();
    expect(summarise('test/secret-v0', 'oracle', transcripts)).toMatchObject({ success_rate: null, mean_return: 1 }); // turngym run's summary
    expect(formatTranscript(transcripts[0]!)).toMatch(
      /\n=== ended \(info\.success not set\) · return 1 · 2 turns · terminated$/,
    );
    // An episode the horizon cut off is not solved, and says so: its rate is known.
    expect(successRate([{ success: true }, { success: false }])).toBe(0.5);
  });
});
