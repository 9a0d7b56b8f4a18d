/**
 * Where a policy's probability of an answer's first token comes from, on the oracle's own transcripts: the
 * oracle plays search/multihop-v0 episodes (held-out by default), and at the first token of each answer, read
 * with the oracle's search and page in context, this reports the policy's probability of the right token
 * (`p`), whether greedy decoding would write it (`greedy_right`), and for a copy-head policy the gate's share
 * for the vocabulary (`gate`), the vocabulary head's and the copy distribution's probabilities of the right
 * token (`p_vocabulary`, `p_copy`), and what greedy writes instead when it is wrong (`greedy_instead`), per
 * question kind and overall. Behaviour cloning's held-out success is bounded by this token: a name copied
 * into a query and a document opened by its id are not enough if the answer's first token is not in reach.
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
  /** The right first token, as text. */
  token: string;
  p: number;
  greedy: string;
  gate?: number;
  pVocabulary?: number;
  pCopy?: number;
}

/** The answer's first token in a demonstration of `policy` for an oracle transcript, with its probabilities. */
export function answerToken(policy: Policy, tokens: readonly number[], targetMask: readonly number[]) {
  const { tokenizer, model } = policy;
  // The last action is the last run of target tokens; its argument starts after its first quote.
  let start = targetMask.lastIndexOf(1);
  if (start < 0) return undefined;
  while (start > 0 && targetMask[start - 1] === 1) start--;
  let at = start + 1;
  while (at < tokens.length && !tokenizer.decode(tokens.slice(start, at)).includes('"')) at++;
  if (at >= tokens.length || targetMask[at] !== 1) return undefined;
  const context = tokens.slice(0, at);
  const right = tokens[at]!;
  return tf.tidy(() => {
    const { hidden } = model.forward({ tokens: tf.tensor2d([context], [1, at], 'int32') });
    const row = tf.slice(hidden, [at - 1, 0], [1, -1]) as tf.Tensor2D;
    const pick = (distribution: tf.Tensor) => (distribution.dataSync() as Float32Array)[right]!;
    const argmax = (distribution: tf.Tensor) => tokenizer.decode([tf.argMax(distribution, 1).dataSync()[0]!]);
    if (!model.config.copy) {
      const distribution = tf.softmax(model.logits(row));
      return { token: tokenizer.decode([right]), p: pick(distribution), greedy: argmax(distribution) };
    }
    const { vocabulary, gate, copied } = model.copyMixture(row, {
      keys: model.copyKeys(hidden, [context], 0),
      tokens: [context],
      rowSequence: [0],
      rowLimit: [at - 1],
    });
    const mixture = tf.add(tf.mul(gate, vocabulary), tf.mul(tf.sub(1, gate), copied));
    return {
      token: tokenizer.decode([right]),
      p: pick(mixture),
      greedy: argmax(mixture),
      gate: gate.dataSync()[0]!,
      pVocabulary: pick(vocabulary),
      pCopy: pick(copied),
    };
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
  const rows: AnswerToken[] = [];
  try {
    const first = split === 'heldout' ? 1_000_000 : 0;
    for (let seed = first; seed < first + Number(episodes); seed++) {
      const transcript = await runEpisode(env, new OracleAgent(), { seed, options: { split } });
      const example = demonstrationExamples(policy, env.spec, transcript).at(-1);
      const found = example && answerToken(policy, example.tokens, example.targetMask);
      if (found) rows.push({ kind: transcript.kind ?? 'unknown', ...found });
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
      episodes: group.length,
      p: mean('p'),
      greedy_right: +(group.filter((row) => row.greedy === row.token).length / Math.max(1, group.length)).toFixed(3),
      gate: mean('gate'),
      p_vocabulary: mean('pVocabulary'),
      p_copy: mean('pCopy'),
      greedy_instead: Object.fromEntries([...instead].sort((a, b) => b[1] - a[1]).slice(0, 3)),
    };
  };
  const kinds = [...new Set(rows.map((row) => row.kind))].sort();
  console.log(
    JSON.stringify(
      {
        checkpoint,
        split,
        overall: summary(rows),
        by_kind: Object.fromEntries(kinds.map((kind) => [kind, summary(rows.filter((row) => row.kind === kind))])),
      },
      null,
      2,
    ),
  );
}

if (process.argv[1]?.endsWith('answer-pointer.ts')) await main();
