/**
 * What went wrong in search episodes, from what the agent did and saw (no ground truth needed): reads the JSONL
 * that `turngym eval --record FILE` (or `run --record`) writes for search/multihop-v0 and gives each failed
 * episode the first of these that applies, per question kind and overall:
 *
 * - `malformed`: an action the env could not parse, an unknown tool or arguments it refused (any error but a
 *   tool's own, such as an unknown id);
 * - `query_not_from_question`: no search whose query's words all appear in the question (a name not copied);
 * - `opened_nothing`: searched, but never opened a document listed in a search result;
 * - `hop_not_followed` (questions of 2 hops or more): the chain stopped short: fewer hops than the question has,
 *   where a hop is opening a document (not one of an earlier hop) listed by a search whose words came from the
 *   question (the first hop) or from the question and the documents opened on earlier hops (any page), with at
 *   least one word the question does not hold (the name read there);
 * - `answer_not_read`: answered with text that no observation showed (nothing copied from a page or snippet);
 * - `wrong_span`: answered with text an observation showed, but not the answer (copied the wrong words);
 * - `no_answer`: ran out of turns without answering.
 *
 * and counts, failed or not, the episodes that searched for words all from the question
 * (`searched_question_words`), that opened a document a search listed (`opened_a_listed_document`) and that
 * reached each hop (`reached_hop_1`, `reached_hop_2`, ... up to the most hops of a question in the file; never
 * beyond the episode's own question's): how far a policy gets in reading. Rows: `all`, each question kind, and
 * `hops=N` for each number of hops.
 *
 *   npx tsx scripts/search-failures.ts runs/p39/eval.jsonl
 */
import { readFileSync } from 'node:fs';
import { resolveAction } from '../src/envs/actions.js';
import type { Action } from '../src/envs/env.js';
import { documentId } from '../src/envs/search/env.js';
import { searchTools } from '../src/envs/search/tools.js';

interface Step {
  /** The action as the agent sent it: text (a policy's) or a tool call. */
  action: Action;
  result: { observation: { text: string }; info: Record<string, unknown> };
}
interface Episode {
  reset: { observation: { text: string }; info: { kind?: string; difficulty?: number } };
  steps: Step[];
}

export const FAILURES = [
  'malformed',
  'query_not_from_question',
  'opened_nothing',
  'hop_not_followed',
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

/** The hops of an episode's question (its difficulty; 1 for a record without it). */
const hopsOf = (episode: Episode) => episode.reset.info.difficulty ?? 1;

/**
 * How far an episode got: whether it searched for words all from the question, whether it opened a document a
 * search had listed, how many hops of the chain it followed, and its failure (undefined when it succeeded).
 */
export function readingOf(episode: Episode): {
  copiedQuery: boolean;
  opened: boolean;
  hops: number;
  failure?: Failure;
} {
  const succeeded = episode.steps.at(-1)?.result.info.success === true;
  const question = new Set(words(/^Question: (.*)$/m.exec(episode.reset.observation.text)?.[1] ?? ''));
  const seen: string[] = [];
  const listed = new Set<string>();
  // The chain: the documents opened on its hops, the words read in them (any page), and the documents the last
  // search that could take it one hop further listed.
  const hopDocuments = new Set<string>();
  const read = new Set<string>();
  let nextHop = new Set<string>();
  let hops = 0;
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
      const fromQuestion = query.length > 0 && query.every((word) => question.has(word));
      if (fromQuestion) copiedQuery = true;
      const ids = [...result.observation.text.matchAll(/\[([^\]]+)\]/g)].map((match) => match[1]!);
      for (const id of ids) listed.add(id);
      const fromPage =
        query.some((word) => !question.has(word)) && query.every((word) => question.has(word) || read.has(word));
      if (hops === 0 ? fromQuestion : fromPage) nextHop = new Set(ids);
    }
    if (call?.tool === 'open' && !error) {
      const id = documentId(String(call.args?.id ?? ''));
      if (listed.has(id)) opened = true;
      if (nextHop.has(id) && !hopDocuments.has(id)) {
        hops++;
        nextHop = new Set();
        hopDocuments.add(id);
      }
      if (hopDocuments.has(id)) for (const word of words(result.observation.text)) read.add(word);
    }
    if (call?.tool === 'answer' && !error) {
      const answer = words(String(call.args?.text ?? '')).join(' ');
      const shown = answer !== '' && seen.some((text) => words(text).join(' ').includes(answer));
      return {
        copiedQuery,
        opened,
        hops,
        failure: succeeded ? undefined : firstFailure(shown ? 'wrong_span' : 'answer_not_read'),
      };
    }
    seen.push(result.observation.text);
  }
  return { copiedQuery, opened, hops, failure: firstFailure('no_answer') };

  function firstFailure(last: Failure): Failure {
    if (malformed) return 'malformed';
    if (!copiedQuery) return 'query_not_from_question';
    if (!opened) return 'opened_nothing';
    if (hopsOf(episode) >= 2 && hops < hopsOf(episode)) return 'hop_not_followed';
    return last;
  }
}

/** Counts of each failure (and successes) overall, by question kind and by number of hops. */
export function failureTable(episodes: readonly Episode[]): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  const mostHops = Math.max(1, ...episodes.map(hopsOf));
  const reached = Array.from({ length: mostHops }, (_, index) => `reached_hop_${index + 1}`);
  for (const episode of episodes) {
    const { copiedQuery, opened, hops, failure } = readingOf(episode);
    for (const key of ['all', episode.reset.info.kind ?? 'unknown', `hops=${hopsOf(episode)}`]) {
      table[key] ??= Object.fromEntries(
        [...FAILURES, 'success', 'searched_question_words', 'opened_a_listed_document', ...reached].map((name) => [
          name,
          0,
        ]),
      );
      const row = table[key]!;
      row[failure ?? 'success']!++;
      if (copiedQuery) row.searched_question_words!++;
      if (opened) row.opened_a_listed_document!++;
      for (const name of reached.slice(0, Math.min(hops, hopsOf(episode)))) row[name]!++;
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
