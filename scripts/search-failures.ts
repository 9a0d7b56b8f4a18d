/**
 * What went wrong in search episodes, from what the agent did and saw (no ground truth needed): reads the JSONL
 * that `turngym eval --record FILE` (or `run --record`) writes for search/multihop-v0 and gives each failed
 * episode the first of these that applies, per question kind and overall:
 *
 * - `malformed`: an action the env could not parse, an unknown tool or arguments it refused (any error but a
 *   tool's own, such as an unknown id);
 * - `query_not_from_question`: no search whose query's words all appear in the question (a name not copied);
 * - `opened_nothing`: searched, but never opened a document listed in a search result;
 * - `answer_not_read`: answered with text that no observation showed (nothing copied from a page or snippet);
 * - `wrong_span`: answered with text an observation showed, but not the answer (copied the wrong words);
 * - `no_answer`: ran out of turns without answering.
 *
 * and counts, failed or not, the episodes that searched for words all from the question
 * (`searched_question_words`) and that opened a document a search listed (`opened_a_listed_document`): how far
 * a policy gets in reading.
 *
 *   npx tsx scripts/search-failures.ts runs/p39/eval.jsonl
 */
import { readFileSync } from 'node:fs';
import { resolveAction } from '../src/envs/actions.js';
import type { Action } from '../src/envs/env.js';
import { searchTools } from '../src/envs/search/tools.js';

interface Step {
  /** The action as the agent sent it: text (a policy's) or a tool call. */
  action: Action;
  result: { observation: { text: string }; info: Record<string, unknown> };
}
interface Episode {
  reset: { observation: { text: string }; info: { kind?: string } };
  steps: Step[];
}

export const FAILURES = [
  'malformed',
  'query_not_from_question',
  'opened_nothing',
  'answer_not_read',
  'wrong_span',
  'no_answer',
] as const;
export type Failure = (typeof FAILURES)[number];

const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** The failure of one episode, or undefined when it succeeded. */
export function failureOf(episode: Episode): Failure | undefined {
  return readingOf(episode).failure;
}

/**
 * How far an episode got: whether it searched for words all from the question, whether it opened a document a
 * search had listed, and its failure (undefined when it succeeded).
 */
export function readingOf(episode: Episode): { copiedQuery: boolean; opened: boolean; failure?: Failure } {
  const succeeded = episode.steps.at(-1)?.result.info.success === true;
  const question = new Set(words(/^Question: (.*)$/m.exec(episode.reset.observation.text)?.[1] ?? ''));
  const seen: string[] = [];
  const listed = new Set<string>();
  let copiedQuery = false;
  let opened = false;
  let malformed = false;
  for (const { action, result } of episode.steps) {
    const parsed = resolveAction(action, searchTools, Infinity);
    const call = parsed.ok ? parsed.call : undefined;
    const error = result.info.error as { code?: string } | undefined;
    if (error && error.code !== 'TOOL_ERROR') malformed = true;
    if (call?.tool === 'search' && !error) {
      const query = words(String(call.args?.query ?? ''));
      if (query.length > 0 && query.every((word) => question.has(word))) copiedQuery = true;
      for (const match of result.observation.text.matchAll(/\[([^\]]+)\]/g)) listed.add(match[1]!);
    }
    if (call?.tool === 'open' && !error && listed.has(String(call.args?.id ?? '').replace(/^\[|\]$/g, '')))
      opened = true;
    if (call?.tool === 'answer' && !error) {
      const answer = words(String(call.args?.text ?? '')).join(' ');
      const read = answer !== '' && seen.some((text) => words(text).join(' ').includes(answer));
      return {
        copiedQuery,
        opened,
        failure: succeeded ? undefined : firstFailure(read ? 'wrong_span' : 'answer_not_read'),
      };
    }
    seen.push(result.observation.text);
  }
  return { copiedQuery, opened, failure: firstFailure('no_answer') };

  function firstFailure(last: Failure): Failure {
    if (malformed) return 'malformed';
    if (!copiedQuery) return 'query_not_from_question';
    if (!opened) return 'opened_nothing';
    return last;
  }
}

/** Counts of each failure (and successes) by question kind, and overall. */
export function failureTable(episodes: readonly Episode[]): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  for (const episode of episodes) {
    const { copiedQuery, opened, failure } = readingOf(episode);
    for (const key of ['all', episode.reset.info.kind ?? 'unknown']) {
      table[key] ??= Object.fromEntries(
        [...FAILURES, 'success', 'searched_question_words', 'opened_a_listed_document'].map((name) => [name, 0]),
      );
      const row = table[key]!;
      row[failure ?? 'success']!++;
      if (copiedQuery) row.searched_question_words!++;
      if (opened) row.opened_a_listed_document!++;
    }
  }
  return table;
}

if (process.argv[1]?.endsWith('search-failures.ts')) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx scripts/search-failures.ts EVAL_RECORD.jsonl');
    process.exit(2);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    console.error(`search-failures: cannot read ${file}; give the file that turngym eval --record wrote.`);
    process.exit(2);
  }
  const episodes = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Episode);
  console.log(JSON.stringify(failureTable(episodes), null, 2));
}
