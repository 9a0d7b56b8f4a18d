/** The copy head (model option `copy`): a pointer over the context mixed with the vocabulary distribution. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../../../src/agent/policy/checkpoint.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { PolicyThreads } from '../../../src/agent/policy/policy-threads.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { Rng } from '../../../src/core/rng.js';

/** 240 words of letters only (a digit would be a piece of its own). */
const WORDS = Array.from(
  { length: 240 },
  (_, i) => `q${String.fromCharCode(97 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`,
);
let tokenizer: Tokenizer;
let directory: string;

beforeAll(async () => {
  await initBackend('wasm', () => {});
  const quoted = WORDS.map((word) => `"${word}"`).join(' ');
  tokenizer = Tokenizer.fit([WORDS.join(' '), WORDS.join(' '), quoted, quoted, 'copy : copy :']);
  directory = await mkdtemp(join(tmpdir(), 'turngym-copy-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const model = { layers: 1, width: 32, heads: 2, contextLength: 64, copy: true };
const contexts = () => [
  tokenizer.encode('qab qac qad copy : qae qaf'),
  tokenizer.encode('qag copy :'),
  tokenizer.encode('qah qai qaj qak qal qam qan qao copy : qap'),
];

type Example = (rng: Rng, low: number, high: number) => { prompt: number[]; answer: number[] };

/** A policy of `shape` trained for 120 steps of 16 examples drawn with words low..high. */
function trainedOn(
  example: Example,
  low: number,
  high: number,
  shape: Partial<typeof model> & { copyPunctuation?: string },
  on = tokenizer,
): Policy {
  const policy = Policy.create({
    tokenizer: on,
    model: { ...model, ...shape },
    seed: 3,
    maxActionTokens: 8,
    optimizer: { learningRate: 3e-3 },
  });
  const rng = Rng.fromSeed(4);
  for (let step = 0; step < 120; step++) {
    const batch = Array.from({ length: 16 }, () => {
      const { prompt, answer } = example(rng, low, high);
      return { tokens: [...prompt, ...answer], targetMask: [...prompt.map(() => 0), ...answer.map(() => 1)] };
    });
    policy.update(() => tf.neg(tf.mean(policy.tokenLogprobs(batch).logprobs)) as tf.Scalar);
  }
  return policy;
}

/** The share of 40 examples with words 160..239 (never in training) whose first answer token greedy gets right. */
function firstTokenAccuracy(policy: Policy, example: Example): number {
  const rng = Rng.fromSeed(99);
  const tests = Array.from({ length: 40 }, () => example(rng, 160, 239));
  const samples = policy.sample(
    tests.map((t) => t.prompt),
    { temperature: 0, maxTokens: 1 },
  );
  return samples.filter((s, i) => s.tokens[0] === tests[i]!.answer[0]).length / tests.length;
}

describe('copy head', () => {
  // The last case samples past the cache's first room (32 positions), so the cache grows while decoding.
  it.each([
    [0, 0, 8],
    [2, 0, 8],
    [2, 3, 40],
  ])(
    'samples with the cache what full recomputation samples, and scores what sampling reported, on one thread and two (copyPrevious %i, copyAhead %i, %i tokens)',
    (copyPrevious, copyAhead, maxTokens) => {
      const policy = Policy.create({
        tokenizer,
        // An action may take at most half the context.
        model: { ...model, copyPrevious, copyAhead, contextLength: Math.max(model.contextLength, 2 * maxTokens + 16) },
        seed: 1,
        maxActionTokens: maxTokens,
      });
      try {
        policy.threads = new PolicyThreads(1);
        const cached = policy.sample(contexts(), { rng: Rng.fromSeed(7), maxTokens });
        const full = policy.sample(contexts(), { rng: Rng.fromSeed(7), maxTokens, incremental: false });
        expect(cached.map((s) => s.tokens)).toEqual(full.map((s) => s.tokens));
        // Rows are left-padded to the longest context; its room of 32 is outgrown when a row samples more than 32.
        expect(Math.max(...cached.map((s) => s.tokens.length))).toBeGreaterThan(maxTokens > 32 ? 32 : 0);
        for (const threads of [1, 2]) {
          policy.threads = new PolicyThreads(threads);
          for (const temperature of [1, 0.7]) {
            const samples = policy.sample(contexts(), { rng: Rng.fromSeed(3), maxTokens, temperature });
            const scores = policy.score(
              contexts(),
              samples.map((s) => s.tokens),
              { temperature, maxBatchTokens: 20 },
            );
            samples.forEach((sample, row) =>
              sample.logprobs.forEach((logprob, t) => expect(scores[row]![t]!).toBeCloseTo(logprob, 4)),
            );
          }
          policy.threads.close();
        }
      } finally {
        policy.dispose();
      }
    },
  );

  it('with copyPrevious, learns to point at the word after the phrase a query names, where keys of the word alone do not', () => {
    // 'qaa X qab Y copy qab :' -> ' Y' (the pairs in either order): the pointer must find the word whose
    // previous token is the marker the row asks for. Training uses words 2..159, the test words 160..239.
    const example = (rng: Rng, low: number, high: number) => {
      const [x, y] = [0, 1].map(() => WORDS[rng.int(low, high)]!);
      const pairs = [`qaa ${x}`, `qab ${y}`];
      if (rng.chance(0.5)) pairs.reverse();
      const asked = rng.chance(0.5) ? 0 : 1;
      const prompt = tokenizer.encode(`${pairs.join(' ')} copy ${WORDS[asked]} :`);
      return { prompt, answer: tokenizer.encode(` ${asked === 0 ? x : y}`) };
    };
    const withPrevious = trainedOn(example, 2, 159, { copyPrevious: 1 });
    const without = trainedOn(example, 2, 159, { copyPrevious: 0 });
    try {
      const [a, b] = [firstTokenAccuracy(withPrevious, example), firstTokenAccuracy(without, example)];
      console.log('copyPrevious 1 accuracy', a, 'copyPrevious 0', b);
      expect(a).toBeGreaterThan(0.8);
      expect(b).toBeLessThan(0.7);
    } finally {
      withPrevious.dispose();
      without.dispose();
    }
  }, 120_000);

  it('with copyAhead, learns to point at the word before the phrase a query names (an id before its name), where causal keys do not', () => {
    // 'X qaa Y qab Z qac copy qab :' -> ' Y' (the pairs in any order, after 0 to 3 filler words): the pointer
    // must find the word whose next token is the marker the row asks for, as an id written before the name it
    // stands for. Training uses words 3..159, the test words 160..239.
    const example = (rng: Rng, low: number, high: number) => {
      const words = [0, 1, 2].map(() => WORDS[rng.int(low, high)]!);
      const pairs = rng.shuffle(words.map((word, i) => `${word} ${WORDS[i]}`));
      const filler = Array.from({ length: rng.int(0, 3) }, () => WORDS[rng.int(low, high)]!);
      const asked = rng.int(0, 2);
      const prompt = tokenizer.encode(`${[...filler, ...pairs].join(' ')} copy ${WORDS[asked]} :`);
      return { prompt, answer: tokenizer.encode(` ${words[asked]}`) };
    };
    const withAhead = trainedOn(example, 3, 159, { copyAhead: 1 });
    const without = trainedOn(example, 3, 159, { copyAhead: 0 });
    try {
      const [a, b] = [firstTokenAccuracy(withAhead, example), firstTokenAccuracy(without, example)];
      console.log('copyAhead 1 accuracy', a, 'copyAhead 0', b);
      // Chance is about a third (three pairs); 120 steps take the head well above it, causal keys not.
      expect(a).toBeGreaterThan(0.6);
      expect(b).toBeLessThan(0.45);
    } finally {
      withAhead.dispose();
      without.dispose();
    }
  }, 120_000);

  it('with the gate shut on the vocabulary, writes only words of the context, with or without their leading space, never a special token', () => {
    const policy = Policy.create({ tokenizer, model, seed: 2, maxActionTokens: 8 });
    const { spaced, plain } = tokenizer.spaceVariants();
    const end = tokenizer.special('<|end|>');
    const withSpecials = contexts().map((context) => [tokenizer.special('<|task|>'), ...context, end, ...context]);
    try {
      policy.model.variables.get('copy_gate_shift')!.assign(tf.tensor1d([-40]));
      const samples = policy.sample(withSpecials, { rng: Rng.fromSeed(5), maxTokens: 6, stopToken: -1 });
      for (const [row, sample] of samples.entries()) {
        expect(sample.tokens).toHaveLength(6);
        const seen = new Set(contexts()[row]!.flatMap((token) => [spaced[token]!, plain[token]!]));
        for (const token of sample.tokens) {
          expect(seen.has(token)).toBe(true);
          seen.add(spaced[token]!).add(plain[token]!); // a token written is in the context of the next
        }
      }
    } finally {
      policy.dispose();
    }
  });

  it('learns to copy words it never wrote in training, where the vocabulary head alone cannot', () => {
    // "wA wB wC copy : wB" or 'wA wB wC copy : "wB"': copy the second word, read after a space and written
    // after a space or a quote (` wB` and `wB` are two ids). Training uses words 0..159, the test words 160..239.
    const example = (rng: Rng, low: number, high: number) => {
      const words = [0, 1, 2].map(() => WORDS[rng.int(low, high)]!);
      const quote = rng.chance(0.5) ? ' "' : '';
      const prompt = tokenizer.encode(`${words.join(' ')} copy :${quote}`);
      return { prompt, answer: tokenizer.encode(quote ? `${words[1]}"` : ` ${words[1]}`) };
    };
    const withCopy = trainedOn(example, 0, 159, { copy: true });
    const plain = trainedOn(example, 0, 159, { copy: false });
    try {
      console.log('copy accuracy', firstTokenAccuracy(withCopy, example), 'plain', firstTokenAccuracy(plain, example));
      expect(firstTokenAccuracy(withCopy, example)).toBeGreaterThan(0.8);
      expect(firstTokenAccuracy(plain, example)).toBeLessThan(0.2);
    } finally {
      withCopy.dispose();
      plain.dispose();
    }
  }, 120_000);

  it('copies a word the tokenizer never saw (a run of bytes) by following on from the last copied byte', () => {
    // 'qab qac <word> qad copy : "<word>"' with <word> 4 to 6 random letters, spelled in bytes.
    const example = (rng: Rng) => {
      const word = Array.from({ length: rng.int(4, 6) }, () => String.fromCharCode(97 + rng.int(0, 25))).join('');
      const filler = () => WORDS[rng.int(0, 239)]!;
      const prompt = tokenizer.encode(`${filler()} ${filler()} ${word} ${filler()} copy : "`);
      return { prompt, answer: tokenizer.encode(`${word}"`) };
    };
    const policy = Policy.create({ tokenizer, model, seed: 8, maxActionTokens: 8, optimizer: { learningRate: 3e-3 } });
    try {
      const rng = Rng.fromSeed(10);
      for (let step = 0; step < 150; step++) {
        const batch = Array.from({ length: 16 }, () => {
          const { prompt, answer } = example(rng);
          return { tokens: [...prompt, ...answer], targetMask: [...prompt.map(() => 0), ...answer.map(() => 1)] };
        });
        policy.update(() => tf.neg(tf.mean(policy.tokenLogprobs(batch).logprobs)) as tf.Scalar);
      }
      const tests = Array.from({ length: 40 }, () => example(Rng.fromSeed(rng.int(0, 1e9))));
      const samples = policy.sample(
        tests.map((test) => test.prompt),
        { temperature: 0, maxTokens: 8, stopToken: tokenizer.encode('"')[0] },
      );
      const right = samples.filter((sample, i) => sample.tokens.join() === tests[i]!.answer.join()).length;
      expect(right / tests.length).toBeGreaterThan(0.8);
    } finally {
      policy.dispose();
    }
  }, 120_000);

  it('knows each word with and without its leading space', () => {
    const { spaced, plain } = tokenizer.spaceVariants();
    const [withSpace] = tokenizer.encode(' qaf');
    const [without] = tokenizer.encode('"qaf').slice(1);
    expect(withSpace).not.toBe(without);
    expect([spaced[without!], plain[withSpace!], spaced[withSpace!], plain[without!]]).toEqual([
      withSpace,
      without,
      withSpace,
      without,
    ]);
    const [byte] = tokenizer.encode('\u00e9');
    expect([spaced[byte!], plain[byte!]]).toEqual([byte, byte]);
  });

  it('may copy words, digits, the space byte and bytes of unseen characters, never punctuation or special tokens', () => {
    const copyable = tokenizer.copyable();
    const ids = (text: string) => tokenizer.encode(text);
    for (const text of [' qaf', 'qaf', '7', ' ', '\u00e9'])
      for (const id of ids(text)) expect(copyable[id], text).toBe(1);
    for (const text of [')', ' :', '"', '=']) for (const id of ids(text)) expect(copyable[id], text).toBe(0);
    expect(copyable[tokenizer.special('<|end|>')]).toBe(0);
  });

  it('may copy the punctuation copyPunctuation names, with or without a leading space, and no other', () => {
    const named = Tokenizer.fit(['qaa & qab', 'qac & qad', 'qae - qaf']);
    const ids = (text: string) => named.encode(text);
    expect(ids(' &')).toHaveLength(1);
    const none = named.copyable();
    const ampersand = named.copyable('&');
    for (const id of [...ids(' &'), ...ids('&')]) expect([none[id], ampersand[id]]).toEqual([0, 1]);
    for (const text of [' -', '-', ')', '"'])
      for (const id of ids(text)) if (named.decode([id]) !== ' ') expect(ampersand[id], text).toBe(0);
    for (const text of [' qaa', 'qab', ' ']) for (const id of ids(text)) expect(ampersand[id], text).toBe(1);
  });

  it('with copyPunctuation "&", copies on names "X & Y Kind" and "X Kind" of words never seen in training', () => {
    // 'qae <name> qaf <name> copy qaf : "X' -> the rest of the name and '"' (the pairs in either order, each
    // name one or two words joined by " & ", then a kind word; X its first word): whether " &" or the kind
    // follows X is in the context only, next to X, and the other name may hold an "&" either way. Without "&"
    // copyable the vocabulary head must write " &" from what the row saw; with it, the pointer copies it on.
    const kinds = WORDS.slice(0, 4);
    const quoted = WORDS.map((word) => `"${word}"`).join(' ');
    const named = Tokenizer.fit([WORDS.join(' '), WORDS.join(' '), quoted, quoted, 'qaa & qab & qac & qad', 'copy :']);
    const example = (rng: Rng, low: number, high: number) => {
      const word = () => WORDS[rng.int(low, high)]!;
      const name = () => [word(), ...(rng.chance(0.5) ? [`& ${word()}`] : []), kinds[rng.int(0, 3)]!];
      const names = [name(), name()];
      const pairs = names.map((parts, k) => `${WORDS[4 + k]} ${parts.join(' ')}`);
      if (rng.chance(0.5)) pairs.reverse();
      const asked = rng.int(0, 1);
      const [first, ...rest] = names[asked]!;
      const prompt = named.encode(`${pairs.join(' ')} copy ${WORDS[4 + asked]} : "${first}`);
      return { prompt, answer: named.encode(` ${rest.join(' ')}"`) };
    };
    // Greedy whole names, and the mean probability of the decision after X (" &" or the kind), on 40 tests.
    const measure = (policy: Policy) => {
      const rng = Rng.fromSeed(99);
      const tests = Array.from({ length: 40 }, () => example(rng, 160, 239));
      const samples = policy.sample(
        tests.map((test) => test.prompt),
        { temperature: 0, maxTokens: 8, stopToken: named.encode('"')[0] },
      );
      const scores = policy.score(
        tests.map((test) => test.prompt),
        tests.map((test) => test.answer.slice(0, 1)),
      );
      return {
        whole: samples.filter((sample, i) => sample.tokens.join() === tests[i]!.answer.join()).length / tests.length,
        decision: scores.reduce((sum, [logprob]) => sum + Math.exp(logprob!), 0) / tests.length,
      };
    };
    const [withAmpersand, without] = ['&', ''].map((copyPunctuation) =>
      trainedOn(example, 6, 159, { copyPrevious: 1, copyPunctuation }, named),
    );
    try {
      const [a, b] = [measure(withAmpersand), measure(without)];
      console.log('names copied on: copyPunctuation "&"', a, 'none', b);
      expect(a.whole).toBeGreaterThan(0.9);
      expect(a.decision).toBeGreaterThan(0.9);
      expect(b.decision).toBeLessThan(a.decision - 0.1);
    } finally {
      withAmpersand.dispose();
      without.dispose();
    }
  }, 120_000);

  it('round-trips through a checkpoint, and a model without the option has no copy weights', async () => {
    const policy = Policy.create({
      tokenizer,
      model: { ...model, copyPrevious: 2, copyAhead: 2, copyPunctuation: '&' },
      seed: 6,
      maxActionTokens: 8,
    });
    const plain = Policy.create({ tokenizer, model: { ...model, copy: false }, seed: 6, maxActionTokens: 8 });
    const path = join(directory, 'copy');
    try {
      expect([...plain.model.variables.keys()].some((name) => name.startsWith('copy_'))).toBe(false);
      expect(() =>
        Policy.create({ tokenizer, model: { ...model, copy: false, copyPrevious: 2 }, maxActionTokens: 8 }),
      ).toThrow('copyPrevious (2) is a setting of the copy head');
      expect(() =>
        Policy.create({ tokenizer, model: { ...model, copy: false, copyAhead: 2 }, maxActionTokens: 8 }),
      ).toThrow('copyAhead (2) is a setting of the copy head');
      expect(() =>
        Policy.create({ tokenizer, model: { ...model, copy: false, copyPunctuation: '&' }, maxActionTokens: 8 }),
      ).toThrow('copyPunctuation ("&") is a setting of the copy head');
      expect(() =>
        Policy.create({ tokenizer, model: { ...model, copyPunctuation: 'a&' }, maxActionTokens: 8 }),
      ).toThrow('punctuation characters only');
      expect(plain.config.copy).toBe(false);
      await saveCheckpoint(policy, path);
      const loaded = await loadCheckpoint(path);
      const continuations = contexts().map((context) => context.slice(-2));
      const scores = loaded.score(contexts(), continuations);
      loaded.dispose();
      expect([
        loaded.config.copy,
        loaded.config.copyPrevious,
        loaded.config.copyAhead,
        loaded.config.copyPunctuation,
      ]).toEqual([true, 2, 2, '&']);
      expect(scores).toEqual(policy.score(contexts(), continuations));
    } finally {
      policy.dispose();
      plain.dispose();
    }
  });
});
