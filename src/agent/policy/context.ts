/**
 * Context management: fitting a transcript into the model's context. The tool descriptions and the task
 * are always kept; when the turns do not fit, the oldest turns are dropped first and `<|cut|>` marks the
 * place. Training (behaviour cloning) and acting use this same function, so the policy is trained on the
 * contexts it will see.
 */
import { type Segment, type TranscriptTokenizer, actionPrefix, encodeSegment } from '../chat.js';

export interface BuiltContext {
  /** Tokens to condition on; they end with `<|action|>`, so the model writes an action next. */
  tokens: number[];
  /** Turns (action + observation pairs, or a lone observation) left out. */
  droppedTurns: number;
  /** True when even the newest turn or the header had to be cut inside. */
  clipped: boolean;
}

/**
 * Builds the context for the next action from an episode's segments (header first, then turns) within
 * `budget` tokens (the context length minus the room kept for the action).
 */
export function buildContext(segments: readonly Segment[], tokenizer: TranscriptTokenizer, budget: number): BuiltContext {
  const prefix = actionPrefix(tokenizer);
  const cut = tokenizer.special('<|cut|>');
  let headerEnd = 0;
  while (headerEnd < segments.length && (segments[headerEnd]!.role === 'tools' || segments[headerEnd]!.role === 'task')) headerEnd++;
  const header = segments.slice(0, headerEnd).flatMap((segment) => encodeSegment(segment, tokenizer));
  // A turn starts at an action; anything before the first action (a lone observation) is its own group.
  const groups: number[][] = [];
  for (const segment of segments.slice(headerEnd)) {
    const encoded = encodeSegment(segment, tokenizer);
    if (segment.role === 'action' || groups.length === 0) groups.push(encoded);
    else groups[groups.length - 1]!.push(...encoded);
  }
  const total = header.length + groups.reduce((sum, group) => sum + group.length, 0) + prefix.length;
  if (total <= budget) return { tokens: [...header, ...groups.flat(), ...prefix], droppedTurns: 0, clipped: false };

  let kept = groups.length;
  let length = total + 1; // + <|cut|>
  let first = 0;
  while (length > budget && kept > 1) {
    length -= groups[first]!.length;
    first++;
    kept--;
  }
  const tokens = [...header, cut, ...groups.slice(first).flat(), ...prefix];
  if (tokens.length <= budget) return { tokens, droppedTurns: first, clipped: false };
  // Still too long (a huge observation or task): keep the start of the header and the end of the rest.
  const headKeep = Math.min(header.length, Math.floor(budget / 2));
  const tailKeep = budget - headKeep - 1;
  return { tokens: [...tokens.slice(0, headKeep), cut, ...tokens.slice(tokens.length - tailKeep)], droppedTurns: first, clipped: true };
}
