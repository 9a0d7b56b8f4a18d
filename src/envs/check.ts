/**
 * `checkEnv(env)`: the conformance checker env authors run in CI (Gymnasium's check_env, for this contract).
 * It resets, steps and closes the env it is given and reports every rule broken; pass it an env from `make`
 * (or wrapped with `wrap`), since call-order rules are enforced by the standard wrappers.
 */
import { isOpenEnvId } from './remote/openenv-protocol.js';
import type { Action, Env, Oracle, ResetResult, StepResult, ToolSpec } from './env.js';
import { TurngymError } from '../core/errors.js';

export interface CheckOptions {
  /** Seeds used for the determinism check (default [0, 1, 12345]). */
  seeds?: number[];
  /** Steps allowed when playing an episode to its end with the oracle (default: the spec's maxTurns). */
  maxSteps?: number;
}

export interface CheckReport {
  env: string;
  passed: boolean;
  failures: string[];
  /** Names of the checks that ran. */
  checks: string[];
}

/** Malformed actions every env must answer with an error observation (and not end the episode). */
export function malformedActions(tools: readonly ToolSpec[]): { name: string; action: Action }[] {
  const tool = tools[0]!;
  const field = Object.keys(tool.parameters.shape)[0] ?? 'x';
  return [
    { name: 'empty text', action: '' },
    { name: 'unparsable text', action: 'this is not a tool call ((' },
    { name: 'unknown tool', action: { tool: 'no_such_tool_xyz', args: {} } },
    { name: 'wrong argument types', action: { tool: tool.name, args: { [field]: { wrong: ['type'] } } } },
    { name: 'an unexpected argument', action: { tool: tool.name, args: { no_such_argument_xyz: 1 } } },
    { name: 'a 1 MB action', action: `${tool.name}("${'a'.repeat(1 << 20)}")` },
    { name: 'not an action at all', action: 42 as unknown as Action },
  ];
}

/**
 * Runs the conformance checks and returns a report. Throws a `CHECK_FAILED` error listing the failures
 * when `throwOnFailure` is set (handy in a test: `await checkEnv(env, { ... }, true)`).
 */
export async function checkEnv(env: Env, options: CheckOptions = {}, throwOnFailure = false): Promise<CheckReport> {
  const failures: string[] = [];
  const checks: string[] = [];
  const id = env.spec?.id ?? '(no spec)';
  const run = async (name: string, body: () => Promise<void>) => {
    checks.push(name);
    try {
      await body();
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const seeds = options.seeds ?? [0, 1, 12345];

  await run('spec', async () => {
    const spec = env.spec;
    expect(
      typeof spec?.id === 'string' && (/^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*-v\d+$/.test(spec.id) || isOpenEnvId(spec.id)),
      `spec.id '${spec?.id}' is not family/name-vN (or an OpenEnv server's openenv+URL)`,
    );
    expect(Array.isArray(spec.tools) && spec.tools.length > 0, 'spec.tools must list at least one tool');
    for (const tool of spec.tools) {
      expect(/^[A-Za-z_][A-Za-z0-9_]*$/.test(tool.name), `tool name '${tool.name}' must be an identifier`);
      expect(
        typeof tool.description === 'string' && tool.description.length > 0,
        `tool ${tool.name} needs a description`,
      );
      expect(typeof tool.parameters?.safeParse === 'function', `tool ${tool.name} needs a zod object schema`);
    }
    expect(Number.isInteger(spec.maxTurns) && spec.maxTurns > 0, 'spec.maxTurns must be a positive integer');
  });

  await run('step before reset is a typed error', async () => {
    const error = await env.step('x').then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(TurngymError.is(error, 'RESET_NEEDED'), `expected a RESET_NEEDED error, got ${describe(error)}`);
  });

  await run('reset result shape', async () => {
    assertReset(await env.reset({ seed: seeds[0] }));
  });

  if (env.spec.deterministic) {
    await run('same seed, same observations', async () => {
      for (const seed of seeds) {
        const first = await env.reset({ seed });
        const second = await env.reset({ seed });
        expect(
          first.observation.text === second.observation.text,
          `seed ${seed} gave two different first observations`,
        );
        const firstStep = await env.step(await firstAction(env, first));
        const again = await env.reset({ seed });
        const secondStep = await env.step(await firstAction(env, again));
        expect(
          firstStep.observation.text === secondStep.observation.text,
          `seed ${seed}: the same action gave different observations`,
        );
      }
    });
  }

  await run('malformed actions are error observations', async () => {
    await env.reset({ seed: seeds[0] });
    for (const { name, action } of malformedActions(env.spec.tools)) {
      let result: StepResult;
      try {
        result = await env.step(action);
      } catch (error) {
        throw new Error(`${name}: step threw ${describe(error)} instead of returning an error observation`);
      }
      assertStep(result);
      expect(result.info.error !== undefined, `${name}: info.error is not set`);
      expect(
        typeof result.info.error?.code === 'string' && typeof result.info.error.message === 'string',
        `${name}: info.error needs code and message`,
      );
      expect(!result.terminated, `${name}: a malformed action ended the episode`);
      if (result.truncated) await env.reset({ seed: seeds[0] });
    }
  });

  await run('episode ends and stepping after the end is a typed error', async () => {
    const reset = await env.reset({ seed: seeds[1] ?? 1 });
    const oracle = oracleOf(env);
    let observation = reset.observation;
    let info: Record<string, unknown> = reset.info;
    let last: StepResult | undefined;
    const limit = options.maxSteps ?? env.spec.maxTurns;
    for (let turn = 0; turn < limit + 1; turn++) {
      const action = oracle ? await oracle.next(observation, info) : UNPARSABLE;
      last = await env.step(action);
      assertStep(last);
      if (last.terminated || last.truncated) break;
      observation = last.observation;
      info = last.info;
    }
    expect(
      last !== undefined && (last.terminated || last.truncated),
      `the episode did not end within ${limit + 1} steps (horizon ${env.spec.maxTurns})`,
    );
    if (oracle) {
      expect(last!.terminated, `the oracle did not end its own task within ${limit} steps (the horizon truncated it)`);
      expect(
        typeof last!.info.success === 'boolean',
        "the oracle's last step ended the task without info.success: set info.success to true or false on every step that ends a task (in a TaskEnv's callTool, from suite.verify(task, submission).success); without it turngym cannot tell a solved task from a failed one, and reports success as unknown (docs/writing-an-env.md, 'How success is decided')",
      );
      expect(
        last!.info.success !== false,
        'the oracle did not solve its own task (its last step set info.success to false)',
      );
    }
    const error = await env.step(UNPARSABLE).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(
      TurngymError.is(error, 'EPISODE_ENDED'),
      `stepping after the end: expected EPISODE_ENDED, got ${describe(error)}`,
    );
  });

  await run('ground truth stays out of observations and info', async () => {
    const leaks = await groundTruthLeaks(env, seeds);
    expect(leaks.length === 0, leaks.join('; '));
  });

  await run('horizon truncates', async () => {
    await env.reset({ seed: seeds[0], options: { maxTurns: 1 } });
    const result = await env.step(UNPARSABLE);
    expect(
      result.truncated && !result.terminated,
      'with maxTurns 1, one non-final step should be truncated and not terminated',
    );
  });

  await run('close is idempotent and final', async () => {
    await env.close();
    await env.close();
    const error = await env.reset().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(TurngymError.is(error, 'ENV_CLOSED'), `reset after close: expected ENV_CLOSED, got ${describe(error)}`);
  });

  const report = { env: id, passed: failures.length === 0, failures, checks };
  if (throwOnFailure && !report.passed) {
    throw new TurngymError('CHECK_FAILED', `${id} failed ${failures.length} check(s):\n- ${failures.join('\n- ')}`);
  }
  return report;
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function describe(value: unknown): string {
  if (value === undefined) return 'no error';
  if (TurngymError.is(value)) return `${value.code} (${value.message})`;
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}

const UNPARSABLE = 'this is not a tool call ((';

/** What an agent is shown while a task is open: the first observation and info, and the results of steps that did not end it. */
interface Shown {
  seed: number;
  answer: string;
  /** Each text with where it came from ("the first observation", "info of the oracle's step 2", ...). */
  texts: { where: string; text: string }[];
}

/**
 * Where the task's ground truth (`groundTruth()`, when the env has it) reaches what an agent is shown
 * while the task is open: the first observation and info, the info of every oracle step before the last,
 * and the observation and info of malformed and wrong-tool actions. (An oracle step's observation may hold
 * the answer where finding it is the task, e.g. a page of search results, and the step that ends the task
 * may say what the answer was.) A mention counts as a leak only where the answer stands as a word of its
 * own, and only if the same text of another seed's task does not mention it too (a range "from 1 to 64"
 * mentions 64 in every task, not because 64 is this one's answer).
 */
async function groundTruthLeaks(env: Env, seeds: readonly number[]): Promise<string[]> {
  if (typeof env.groundTruth !== 'function') return [];
  const shown: Shown[] = [];
  for (const seed of seeds) {
    const reset = await env.reset({ seed });
    let answer: string;
    try {
      answer = env.groundTruth();
    } catch (error) {
      if (TurngymError.is(error, 'NOT_SUPPORTED')) return [];
      throw error;
    }
    const texts = [
      { where: 'the first observation', text: reset.observation.text },
      { where: "reset's info", text: JSON.stringify(reset.info) },
    ];
    for (const { name, action } of malformedActions(env.spec.tools).slice(1, 5)) {
      const result = await env.step(action);
      if (result.terminated || result.truncated) break;
      texts.push(
        { where: `the observation of ${name}`, text: result.observation.text },
        { where: `info of ${name}`, text: JSON.stringify(result.info) },
      );
    }
    const oracle = oracleOf(env);
    if (oracle) {
      let current: ResetResult | StepResult = await env.reset({ seed });
      for (let turn = 1; turn <= env.spec.maxTurns; turn++) {
        const result = await env.step(await oracle.next(current.observation, current.info));
        if (result.terminated || result.truncated) break;
        texts.push({ where: `info of the oracle's step ${turn}`, text: JSON.stringify(result.info) });
        current = result;
      }
    }
    shown.push({ seed, answer, texts });
  }
  const leaks: string[] = [];
  for (const task of shown) {
    const mentions = wordPattern(task.answer);
    if (!mentions) continue;
    const others = shown.filter((other) => other.answer !== task.answer);
    for (const { where, text } of task.texts) {
      if (!mentions.test(text)) continue;
      // Text that every task shows (the same place in another task mentions this answer too) is not a leak.
      if (
        others.some((other) =>
          other.texts.some((shownThere) => shownThere.where === where && mentions.test(shownThere.text)),
        )
      )
        continue;
      leaks.push(
        `seed ${task.seed}: ${where} contains the ground-truth answer ${JSON.stringify(task.answer.slice(0, 40))}`,
      );
    }
  }
  return leaks;
}

/** Matches `answer` standing as a word of its own (case-insensitive), or undefined for an empty answer. */
function wordPattern(answer: string): RegExp | undefined {
  const trimmed = answer.trim();
  if (trimmed === '') return undefined;
  const escaped = trimmed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'iu');
}

/** The env's oracle for the current episode, or undefined when it has none. */
function oracleOf(env: Env): Oracle | undefined {
  try {
    return env.oracle?.();
  } catch (error) {
    if (TurngymError.is(error, 'NOT_SUPPORTED')) return undefined;
    throw error;
  }
}

/** The oracle's first action when there is an oracle (a meaningful step), else an unparsable one. */
async function firstAction(env: Env, reset: ResetResult): Promise<Action> {
  const oracle = oracleOf(env);
  return oracle ? oracle.next(reset.observation, reset.info) : UNPARSABLE;
}

function assertReset(result: ResetResult): void {
  expect(typeof result?.observation?.text === 'string', 'reset: observation.text must be a string');
  expect(typeof result.info === 'object' && result.info !== null, 'reset: info must be an object');
  expect(Number.isSafeInteger(result.info.seed), 'reset: info.seed must be the integer seed used');
}

function assertStep(result: StepResult): void {
  expect(typeof result?.observation?.text === 'string', 'step: observation.text must be a string');
  expect(
    typeof result.reward === 'number' && Number.isFinite(result.reward),
    `step: reward must be a finite number, got ${result.reward}`,
  );
  expect(
    typeof result.terminated === 'boolean' && typeof result.truncated === 'boolean',
    'step: terminated and truncated must be booleans',
  );
  expect(typeof result.info === 'object' && result.info !== null, 'step: info must be an object');
}
