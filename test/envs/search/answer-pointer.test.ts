/**
 * scripts/answer-pointer.ts: the policy's probability of each token of an answer on an oracle transcript, and
 * the copy head's parts of it, agree with what the policy itself scores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTokens } from '../../../scripts/answer-pointer.js';
import { runEpisode } from '../../../src/agent/agent.js';
import { OracleAgent } from '../../../src/agent/baselines.js';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { demonstrationExamples } from '../../../src/agent/policy/sft.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import type { Env } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';

let env: Env;
beforeAll(async () => {
  await initBackend('wasm', () => {});
  env = await make('search/multihop-v0', { size: 40, worlds: 50, difficulty: 1, results: 3, snippetChars: 120 });
});
afterAll(async () => {
  await env.close();
});

describe('answer-pointer', () => {
  it.each([
    { copy: false, copyPrevious: 0 },
    { copy: true, copyPrevious: 0 },
    { copy: true, copyPrevious: 2 },
    { copy: true, copyPrevious: 2, copyAhead: 3 },
  ])('finds every token of the answer and gives the probability the policy scores it with (%o)', async (shape) => {
    const transcript = await runEpisode(env, new OracleAgent(), { seed: 3, options: { split: 'train' } });
    const answer = String((transcript.turns.at(-1)!.action as { args: { text: string } }).args.text);
    const tokenizer = Tokenizer.fit(
      [transcript.prompt.text, ...transcript.turns.map((turn) => turn.observation.text)],
      {
        subwords: 50,
      },
    );
    const policy = Policy.create({
      tokenizer,
      model: { layers: 1, width: 32, heads: 2, contextLength: 1024, ...shape },
      seed: 1,
    });
    try {
      const [example] = demonstrationExamples(policy, env.spec, transcript);
      const found = answerTokens(policy, example!.tokens, example!.targetMask);
      // The tokens spell the answer, then the closing quote.
      expect(
        found
          .map((row) => row.token)
          .join('')
          .startsWith(`${answer}"`),
      ).toBe(true);
      expect(found.length).toBeGreaterThan(2);
      expect(found.map((row) => row.position)).toEqual(found.map((_, k) => k));
      expect(found.filter((row) => row.closing).length).toBe(1);
      expect(found.at(-1)!.closing).toBe(true);
      const mask = example!.targetMask;
      let start = mask.lastIndexOf(1);
      while (mask[start - 1] === 1) start--;
      const at = example!.tokens.findIndex(
        (_, index) => index > start && tokenizer.decode(example!.tokens.slice(start, index)) === 'answer(text="',
      );
      expect(at).toBeGreaterThan(start);
      // Each token's probability is what the policy scores it with after the tokens before it.
      const [scored] = policy.score([example!.tokens.slice(0, at)], [example!.tokens.slice(at, at + found.length)]);
      found.forEach((row, k) => expect(Math.log(row.p)).toBeCloseTo(scored![k]!, 4));
      for (const row of found) {
        if (shape.copy) {
          const { gate, pVocabulary, pCopy } = row as Required<typeof row>;
          expect(row.p).toBeCloseTo(gate * pVocabulary + (1 - gate) * pCopy, 5);
        } else expect(row.gate).toBeUndefined();
      }
    } finally {
      policy.dispose();
    }
  });
});
