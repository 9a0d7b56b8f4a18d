/**
 * The base of the `code/` envs: a task from a suite, an interpreter per episode (`run`), and a final tool
 * (`answer` or `submit`) judged by the suite. One isolate per env, a fresh context per episode.
 */
import type { EnvSpec, StepInfo, StepResult, ToolCall } from '../env.js';
import { TurngymError } from '../../core/errors.js';
import { type Task, TaskEnv, type TaskSuite, type Verdict } from '../task.js';
import { type Rng } from '../../core/rng.js';
import { ToolInputError } from '../../core/errors.js';
import { cutText } from '../wrappers.js';
import { type CellResult, Sandbox, type SandboxLimits } from './sandbox.js';

/** A task suite whose final tool is judged (possibly by running code, hence async). */
export interface CodeSuite<T extends Task, Submission = unknown> extends TaskSuite<T, Submission> {
  /** The tool that ends the episode: `answer` (its `value`) or `submit` (its `code`). */
  readonly finalTool: 'answer' | 'submit';
  /** Scores the final tool's argument (`value` or `code`). */
  judge(task: T, argument: string, limits: SandboxLimits): Promise<Verdict>;
  /** Every kind of task the suite generates (calc's families, functions' families, puzzles' kinds), in draw order. */
  readonly kinds: readonly string[];
  /** A task of one of `kinds` (default: all of {@link CodeSuite.kinds}, so a seed gives the task it always gave). */
  generate(rng: Rng, difficulty: number, kinds?: readonly string[]): T;
}

/**
 * The suite restricted to some of its kinds (the `kinds` kwarg of every `code/` env): tasks are drawn only
 * from those, with the same per-kind generators. Unknown kind names are refused with the valid ones listed.
 */
export function restrictKinds<T extends Task>(
  suite: CodeSuite<T>,
  kinds: readonly string[] | undefined,
  envId: string,
): CodeSuite<T> {
  if (kinds === undefined) return suite;
  const unknown = kinds.filter((kind) => !suite.kinds.includes(kind));
  if (unknown.length > 0) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `${envId}: unknown kind${unknown.length > 1 ? 's' : ''} ${unknown.map((kind) => `'${kind}'`).join(', ')} in kwarg kinds; the kinds are ${suite.kinds.join(', ')}.`,
    );
  }
  const chosen = [...new Set(kinds)];
  return { ...suite, generate: (rng, difficulty) => suite.generate(rng, difficulty, chosen) };
}

export class CodeTaskEnv<T extends Task> extends TaskEnv<T> {
  private sandbox: Sandbox | undefined;

  constructor(
    spec: EnvSpec,
    private readonly codeSuite: CodeSuite<T>,
    difficulty: number,
    readonly limits: SandboxLimits,
  ) {
    super(spec, codeSuite as TaskSuite<T, never>, difficulty);
  }

  protected override async startEpisode(task: T): Promise<{ info?: Record<string, unknown> }> {
    this.sandbox ??= await Sandbox.create(this.limits);
    // Math.random in the sandbox is seeded from the task, so a seed replays the same observations.
    await this.sandbox.newEpisode(hashText(task.prompt));
    return {};
  }

  protected async callTool(call: ToolCall, task: T): Promise<StepResult> {
    if (call.tool === 'run') return this.runCode(String(call.args.code));
    const argument = String(call.tool === 'submit' ? call.args.code : call.args.value);
    if (call.tool === 'submit') this.checkLength(argument);
    const verdict = await this.codeSuite.judge(task, argument, this.limits);
    const text = verdict.feedback ?? (verdict.success ? 'Correct.' : 'Incorrect.');
    return {
      observation: { text },
      reward: verdict.score,
      terminated: true,
      truncated: false,
      info: { success: verdict.success, score: verdict.score },
    };
  }

  protected override async dispose(): Promise<void> {
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    await sandbox?.close();
  }

  private async runCode(code: string): Promise<StepResult> {
    this.checkLength(code);
    if (!this.sandbox) throw new ToolInputError('No episode is running; call reset() first.');
    const result = await this.sandbox.run(code);
    const info: StepInfo = { output_chars: result.outputChars };
    if (result.stateLost) info.state_lost = true;
    if (result.error !== undefined) {
      info.error = { code: result.limit === 'time' ? 'TIMEOUT' : 'TOOL_ERROR', message: result.error.split('\n')[0]! };
    }
    return {
      observation: { text: formatCell(result, this.limits) },
      reward: 0,
      terminated: false,
      truncated: false,
      info,
    };
  }

  private checkLength(code: string): void {
    if (code.length > this.limits.maxCodeChars) {
      throw new ToolInputError(
        `The code has ${code.length} characters; the limit is ${this.limits.maxCodeChars}. Send shorter code.`,
        'INVALID_ARGS',
      );
    }
  }
}

/**
 * The observation of a `run`: console output (cut with a marker past the limit), then `=> value` or the
 * uncaught error. An empty result reads `=> undefined`, so the agent always sees that the code ran.
 */
export function formatCell(result: CellResult, limits: Pick<SandboxLimits, 'maxOutputChars'>): string {
  const parts: string[] = [];
  if (result.output !== '') {
    let output = result.output.endsWith('\n') ? result.output.slice(0, -1) : result.output;
    if (result.outputChars > result.output.length) {
      output += `\n[... output cut: ${result.outputChars - result.output.length} more characters (the limit is ${limits.maxOutputChars}) ...]`;
    }
    parts.push(output);
  }
  if (result.error !== undefined) parts.push(cutText(result.error, limits.maxOutputChars));
  else if (!(result.value === 'undefined' && parts.length > 0))
    parts.push(`=> ${cutText(result.value ?? 'undefined', limits.maxOutputChars)}`);
  return parts.join('\n');
}

/** A 31-bit FNV-1a hash of a text (seeds the sandbox's Math.random per task). */
export function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 1;
}
