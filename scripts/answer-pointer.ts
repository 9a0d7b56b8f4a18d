/**
 * Where a policy's probability of each token of an answer comes from, on the oracle's own transcripts: the
 * oracle plays search/multihop-v0 episodes (held-out by default), and at each token of each answer, read with
 * the oracle's search, page and the answer's earlier tokens in context (teacher forcing), this reports the
 * policy's probability of the right token (`p`), whether greedy decoding would write it (`greedy_right`), and
 * for a copy-head policy the gate's share for the vocabulary (`gate`), the vocabulary head's and the copy
 * distribution's probabilities of the right token (`p_vocabulary`, `p_copy`), and what greedy writes instead
 * when it is wrong (`greedy_instead`): for the first token, the later ones and the closing quote, with the
 * share of answers greedy writes whole (`whole_greedy_right`), per question kind and overall. Behaviour
 * cloning's held-out success is bounded by these tokens: a name copied into a query and a document opened by
 * its id are not enough if the answer is not in reach.
 *
 *   npx tsx scripts/answer-pointer.ts runs/p39/c-copy-s0 '{"size":40,"worlds":100000,"results":3,"snippetChars":120}' [episodes] [split]
 */
import * as tf from '@tensorflow/tfjs-core';
import { runEpisode } from '../src/agent/agent.js';
import { OracleAgent } from '../src/agent/baselines.js';
import { initBackend } from '../src/agent/policy/backend.js';
import { loadCheckpoint } from '../src/agent/policy/checkpoint.js';
import type { Policy } from '../src/agent/policy/policy.js';
import { demonstrationExamples } from '../src/agent/policy/sft.js';
import { make } from '../src/index.js';

export interface AnswerToken {
  kind: string;
  /** The token's place in the answer: 0 for the first; the closing quote's token is the last. */
  position: number;
  /** Whether it is the token that closes the answer (a quote), rather than a token of its text. */
  closing: boolean;
  /** The right token, as text. */
  token: string;
  p: number;
  greedy: string;
  gate?: number;
  pVocabulary?: number;
  pCopy?: number;
}

/**
 * Every token of the answer in a demonstration of `policy` for an oracle transcript (the last action's argument,
 * from its first token to the one closing its quote), each read with the oracle's tokens before it in context
 * (teacher forcing), with its probabilities: one forward pass for all of them.
 */
export function answerTokens(
  policy: Policy,
  tokens: readonly number[],
  targetMask: readonly number[],
): Omit<AnswerToken, 'kind'>[] {
  const { tokenizer, model } = policy;
  // The last action is the last run of target tokens; its argument starts after its first quote.
  const last = targetMask.lastIndexOf(1);
  if (last < 0) return [];
  let start = last;
  while (start > 0 && targetMask[start - 1] === 1) start--;
  let at = start + 1;
  while (at <= last && !tokenizer.decode(tokens.slice(start, at)).includes('"')) at++;
  if (at > last) return [];
  let end = at; // the token that closes the quote
  while (end < last && !tokenizer.decode(tokens.slice(at, end + 1)).includes('"')) end++;
  const context = tokens.slice(0, end);
  const rights = tokens.slice(at, end + 1);
  const rowLimit = rights.map((_, k) => at + k - 1);
  return tf.tidy(() => {
    const { hidden } = model.forward({ tokens: tf.tensor2d([context], [1, end], 'int32') });
    const rows = tf.slice(hidden, [at - 1, 0], [rights.length, -1]) as tf.Tensor2D;
    const pick = (distribution: tf.Tensor) => {
      const values = distribution.arraySync() as number[][];
      return rights.map((right, k) => values[k]![right]!);
    };
    const argmax = (distribution: tf.Tensor) =>
      [...(tf.argMax(distribution, 1).dataSync() as Int32Array)].map((id) => tokenizer.decode([id]));
    const rowsOf = (parts: {
      p: number[];
      greedy: string[];
      gate?: number[];
      pVocabulary?: number[];
      pCopy?: number[];
    }) =>
      rights.map((right, k) => ({
        position: k,
        closing: k === rights.length - 1,
        token: tokenizer.decode([right]),
        p: parts.p[k]!,
        greedy: parts.greedy[k]!,
        ...(parts.gate && { gate: parts.gate[k]!, pVocabulary: parts.pVocabulary![k]!, pCopy: parts.pCopy![k]! }),
      }));
    if (!model.config.copy) {
      const distribution = tf.softmax(model.logits(rows));
      return rowsOf({ p: pick(distribution), greedy: argmax(distribution) });
    }
    const { vocabulary, gate, copied } = model.copyMixture(rows, {
      ...model.copyKeyParts(hidden, [context]),
      tokens: [context],
      rowSequence: rights.map(() => 0),
      rowLimit,
    });
    const mixture = tf.add(tf.mul(gate, vocabulary), tf.mul(tf.sub(1, gate), copied));
    return rowsOf({
      p: pick(mixture),
      greedy: argmax(mixture),
      gate: [...(gate.dataSync() as Float32Array)],
      pVocabulary: pick(vocabulary),
      pCopy: pick(copied),
    });
  });
}

async function main(): Promise<void> {
  const [checkpoint, kwargs = '{}', episodes = '50', split = 'heldout'] = process.argv.slice(2);
  if (!checkpoint) {
    console.error('usage: npx tsx scripts/answer-pointer.ts CHECKPOINT [KWARGS_JSON] [EPISODES] [SPLIT]');
    process.exit(2);
  }
  await initBackend('wasm', () => {});
  const policy = await loadCheckpoint(checkpoint);
  const env = await make('search/multihop-v0', JSON.parse(kwargs) as Record<string, unknown>);
  const answers: AnswerToken[][] = [];
  try {
    const first = split === 'heldout' ? 1_000_000 : 0;
    for (let seed = first; seed < first + Number(episodes); seed++) {
      const transcript = await runEpisode(env, new OracleAgent(), { seed, options: { split } });
      const example = demonstrationExamples(policy, env.spec, transcript).at(-1);
      const found = example ? answerTokens(policy, example.tokens, example.targetMask) : [];
      if (found.length > 0) answers.push(found.map((row) => ({ kind: transcript.kind ?? 'unknown', ...row })));
    }
  } finally {
    await env.close();
    policy.dispose();
  }
  const summary = (group: AnswerToken[]) => {
    const mean = (key: 'p' | 'gate' | 'pVocabulary' | 'pCopy') =>
      group[0]?.[key] === undefined
        ? undefined
        : +(group.reduce((sum, row) => sum + row[key]!, 0) / group.length).toFixed(3);
    const instead = new Map<string, number>();
    for (const row of group) if (row.greedy !== row.token) instead.set(row.greedy, (instead.get(row.greedy) ?? 0) + 1);
    return {
      tokens: group.length,
      p: mean('p'),
      greedy_right: +(group.filter((row) => row.greedy === row.token).length / Math.max(1, group.length)).toFixed(3),
      gate: mean('gate'),
      p_vocabulary: mean('pVocabulary'),
      p_copy: mean('pCopy'),
      greedy_instead: Object.fromEntries([...instead].sort((a, b) => b[1] - a[1]).slice(0, 3)),
    };
  };
  // The first token, the later ones of the text, the closing quote, and answers greedy writes whole.
  const parts = (group: AnswerToken[][]) => ({
    answers: group.length,
    whole_greedy_right: +(
      group.filter((answer) => answer.every((row) => row.greedy === row.token)).length / Math.max(1, group.length)
    ).toFixed(3),
    first: summary(group.map((answer) => answer[0]!).filter((row) => !row.closing)),
    later: summary(group.flatMap((answer) => answer.filter((row) => row.position > 0 && !row.closing))),
    closing: summary(group.map((answer) => answer.at(-1)!)),
  });
  const kinds = [...new Set(answers.map((answer) => answer[0]!.kind))].sort();
  console.log(
    JSON.stringify(
      {
        checkpoint,
        split,
        overall: parts(answers),
        by_kind: Object.fromEntries(
          kinds.map((kind) => [kind, parts(answers.filter((answer) => answer[0]!.kind === kind))]),
        ),
      },
      null,
      2,
    ),
  );
}

if (process.argv[1]?.endsWith('answer-pointer.ts')) await main();
