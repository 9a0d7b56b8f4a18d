/**
 * Exporting recorded trajectories for supervised fine-tuning elsewhere. The `messages` format is the chat
 * JSONL that SFT tools in other ecosystems read (OpenAI fine-tuning, TRL's SFTTrainer, axolotl,
 * LLaMA-Factory): one `{"messages": [...]}` object per line, where
 *
 * - `system` tells the agent which env it is in, its turn budget and its tools (name and description),
 * - the first `user` message is the task; each later `user` message is the observation of the previous action,
 * - each `assistant` message is the action text the policy wrote (what a model would learn to produce).
 *
 * The observation after the last action is left out: a conversation ends with the model's last turn.
 */
import type { TrajectoryRecord } from './trajectories.js';

/** The formats `exportTrajectories` writes. */
export const EXPORT_FORMATS = ['messages'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** One chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The system message of a trajectory: the env, the horizon and the tools. */
export function systemMessage(record: TrajectoryRecord): string {
  const tools = (record.tools ?? []).map((tool) => `- ${tool.name}: ${tool.description}`).join('\n');
  return [
    `You are an agent solving a task in the environment ${record.env}. Act by calling exactly one tool per turn; you have at most ${record.max_turns} turns.`,
    tools ? `Tools:\n${tools}` : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** A trajectory as chat messages (system, the task, then action/observation pairs). */
export function trajectoryMessages(record: TrajectoryRecord): ChatMessage[] {
  const messages: ChatMessage[] = [
    { role: 'system', content: systemMessage(record) },
    { role: 'user', content: record.prompt },
  ];
  record.turns.forEach((turn, index) => {
    messages.push({ role: 'assistant', content: turn.action });
    if (index < record.turns.length - 1) messages.push({ role: 'user', content: turn.observation });
  });
  return messages;
}

/** What an export kept and why it left the rest out. */
export interface ExportResult {
  /** JSONL lines, one per exported trajectory. */
  lines: string[];
  /** Trajectories read. */
  total: number;
  /** Left out by `successOnly`. */
  failures: number;
  /** Left out because they have no turn (nothing for a model to learn). */
  empty: number;
}

/**
 * Converts trajectories to JSONL lines in `format`, keeping their order. `successOnly` keeps the
 * trajectories the verifier accepted.
 */
export function exportTrajectories(
  records: readonly TrajectoryRecord[],
  options: { format?: ExportFormat; successOnly?: boolean } = {},
): ExportResult {
  const result: ExportResult = { lines: [], total: records.length, failures: 0, empty: 0 };
  for (const record of records) {
    if (options.successOnly && !record.success) {
      result.failures++;
      continue;
    }
    if (record.turns.length === 0) {
      result.empty++;
      continue;
    }
    result.lines.push(JSON.stringify({ messages: trajectoryMessages(record) }));
  }
  return result;
}
