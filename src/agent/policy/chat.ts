/**
 * The transcript format: how an episode (tool descriptions, task, actions, observations) becomes the token
 * sequence a language-model policy reads and writes. This is the one place that defines it; the policy, its
 * supervised warm start and the RL trainer all render transcripts through these functions.
 *
 * Each part of a transcript is a segment with a role, written as its role token, the text's tokens, and
 * `<|end|>`:
 *
 *   <|tools|> guess(n): Guess the hidden integer. ... <|end|>
 *   <|task|> I am thinking of an integer from 1 to 32. ... <|end|>
 *   <|action|> guess(n=16) <|end|>
 *   <|observation|> 16: higher. <|end|>
 *   <|action|> ...
 *
 * The policy writes an action after a `<|action|>` it is given, and stops at `<|end|>`; only action text
 * and its `<|end|>` carry a training loss. When turns are dropped to fit the context, `<|cut|>` stands
 * where they were (see src/agent/policy/context.ts).
 */
import { describeTools } from '../../envs/actions.js';
import type { Action, EnvSpec, Observation } from '../../envs/env.js';
import type { SpecialToken } from './tokenizer.js';

/** The roles of transcript segments. */
export type Role = 'tools' | 'task' | 'action' | 'observation';

/** One part of a transcript. `tokens`, when given, are the exact ids (a policy's own sampled actions). */
export interface Segment {
  role: Role;
  text: string;
  tokens?: readonly number[];
}

/** What rendering needs from a tokenizer. */
export interface TranscriptTokenizer {
  encode(text: string): number[];
  special(token: SpecialToken): number;
}

/** An encoded sequence and, per token, whether it is an action token that carries the training loss. */
export interface EncodedSequence {
  tokens: number[];
  actionMask: number[];
}

const ROLE_TOKENS: Record<Role, SpecialToken> = {
  tools: '<|tools|>',
  task: '<|task|>',
  action: '<|action|>',
  observation: '<|observation|>',
};

/** The special token that opens a segment of `role`. */
export function roleToken(role: Role): SpecialToken {
  return ROLE_TOKENS[role];
}

/**
 * An action as the text a policy writes: text actions as they are, tool calls in function-call syntax with
 * named, JSON-encoded arguments (`guess(n=16)`, `search(query="capital of France")`), which `parseAction`
 * reads back to the same call.
 */
export function renderAction(action: Action): string {
  if (typeof action === 'string') return action;
  const args = Object.entries(action.args).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return `${action.tool}(${args.join(', ')})`;
}

/** The segments an episode starts with: the tools the env offers, then the task (first observation). */
export function headerSegments(spec: EnvSpec, prompt: Observation): Segment[] {
  return [
    { role: 'tools', text: describeTools(spec.tools) },
    { role: 'task', text: prompt.text },
  ];
}

/** The segments a policy reads of a transcript's: all of them, or without the tools when its model leaves them out. */
export function policySegments(policy: { config: { toolsInContext: boolean } }, segments: Segment[]): Segment[] {
  return policy.config.toolsInContext ? segments : segments.filter((segment) => segment.role !== 'tools');
}

/** The segments of one turn: the action taken and the observation it produced. */
export function turnSegments(action: Action | Segment, observation: Observation): Segment[] {
  const actionSegment = isSegment(action) ? action : { role: 'action' as const, text: renderAction(action) };
  return [actionSegment, { role: 'observation', text: observation.text }];
}

/** All segments of an episode: header, then every turn. */
export function episodeSegments(
  spec: EnvSpec,
  prompt: Observation,
  turns: readonly { action: Action; observation: Observation }[],
): Segment[] {
  return [...headerSegments(spec, prompt), ...turns.flatMap((turn) => turnSegments(turn.action, turn.observation))];
}

/** Tokens of one segment: role token, text tokens, `<|end|>`. */
export function encodeSegment(segment: Segment, tokenizer: TranscriptTokenizer): number[] {
  const body = segment.tokens ? [...segment.tokens] : tokenizer.encode(segment.text);
  return [tokenizer.special(ROLE_TOKENS[segment.role]), ...body, tokenizer.special('<|end|>')];
}

/** Encodes segments into one sequence; the action mask covers each action's text tokens and its `<|end|>`. */
export function encodeSegments(segments: readonly Segment[], tokenizer: TranscriptTokenizer): EncodedSequence {
  const tokens: number[] = [];
  const actionMask: number[] = [];
  for (const segment of segments) {
    const encoded = encodeSegment(segment, tokenizer);
    const loss = segment.role === 'action' ? 1 : 0;
    encoded.forEach((token, index) => {
      tokens.push(token);
      actionMask.push(index === 0 ? 0 : loss);
    });
  }
  return { tokens, actionMask };
}

/** The tokens a policy is given before it writes an action: `<|action|>`. */
export function actionPrefix(tokenizer: TranscriptTokenizer): number[] {
  return [tokenizer.special('<|action|>')];
}

function isSegment(value: Action | Segment): value is Segment {
  return typeof value === 'object' && value !== null && 'role' in value && (value as Segment).role === 'action';
}
