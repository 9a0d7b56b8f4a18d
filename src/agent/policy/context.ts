/**
 * Context management: fitting a transcript into the model's context. When the turns do not fit, the oldest
 * go first and `<|cut|>` marks the place. When the tools, the task and the newest turn still do not fit
 * (search results, web pages and long task statements can each fill a small context), the tool descriptions
 * are shortened first: they are the same in every episode, while the task is what the policy must read.
 * Training (behaviour cloning) and acting use this same function, so the policy is trained on the contexts
 * it will see.
 */
import { type Segment, type TranscriptTokenizer, actionPrefix, encodeSegment } from './chat.js';

export interface BuiltContext {
  /** Tokens to condition on; they end with `<|action|>`, so the model writes an action next. */
  tokens: number[];
  /** Turns (action + observation pairs, or a lone observation) left out. */
  droppedTurns: number;
  /** True when a segment (the tools, the task or the newest turn) had to be cut inside. */
  clipped: boolean;
}

/**
 * Builds the context for the next action from an episode's segments (header first, then turns) within
 * `budget` tokens (the context length minus the room kept for the action). What is kept, in order of
 * priority: the newest turn, the task, older turns (newest first), the tool descriptions. When even the
 * task and the newest turn do not fit, the start of each is kept (a task states its question early; a result
 * list, a page or a document leads with what matters most) and the tools are left out.
 */
export function buildContext(
  segments: readonly Segment[],
  tokenizer: TranscriptTokenizer,
  budget: number,
): BuiltContext {
  const prefix = actionPrefix(tokenizer);
  const cut = tokenizer.special('<|cut|>');
  let headerEnd = 0;
  while (headerEnd < segments.length && (segments[headerEnd]!.role === 'tools' || segments[headerEnd]!.role === 'task'))
    headerEnd++;
  const header = segments.slice(0, headerEnd);
  const tools = header
    .filter((segment) => segment.role === 'tools')
    .flatMap((segment) => encodeSegment(segment, tokenizer));
  const task = header
    .filter((segment) => segment.role === 'task')
    .flatMap((segment) => encodeSegment(segment, tokenizer));
  // A turn starts at an action; anything before the first action (a lone observation) is its own group.
  const groups: number[][] = [];
  for (const segment of segments.slice(headerEnd)) {
    const encoded = encodeSegment(segment, tokenizer);
    if (segment.role === 'action' || groups.length === 0) groups.push(encoded);
    else groups[groups.length - 1]!.push(...encoded);
  }
  const fixed = tools.length + task.length + prefix.length;
  let length = fixed + groups.reduce((sum, group) => sum + group.length, 0);
  let first = 0;
  while (length > budget && groups.length - first > 1) {
    length -= groups[first]!.length;
    if (first === 0) length++; // the <|cut|> that marks dropped turns
    first++;
  }
  const turns = [...(first > 0 ? [cut] : []), ...groups.slice(first).flat()];
  if (length <= budget)
    return { tokens: [...tools, ...task, ...turns, ...prefix], droppedTurns: first, clipped: false };

  const toolsRoom = budget - task.length - turns.length - prefix.length - 1;
  if (toolsRoom >= 0)
    return {
      tokens: [...tools.slice(0, toolsRoom), cut, ...task, ...turns, ...prefix],
      droppedTurns: first,
      clipped: true,
    };
  const room = Math.max(0, budget - prefix.length - 2);
  const taskKeep = Math.min(task.length, Math.max(Math.floor(room / 2), room - turns.length));
  return {
    tokens: [...task.slice(0, taskKeep), cut, ...turns.slice(0, room - taskKeep), cut, ...prefix],
    droppedTurns: first,
    clipped: true,
  };
}
