import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runEpisode } from '../../../src/agent/agent.js';
import { encodeSegment, headerSegments, renderAction, roleToken } from '../../../src/agent/policy/chat.js';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../../../src/agent/policy/checkpoint.js';
import { gatherRows, layerNorm, matMul } from '../../../src/agent/policy/ops.js';
import { EpisodeContext, PolicyAgent } from '../../../src/agent/policy/play.js';
import { Policy } from '../../../src/agent/policy/policy.js';
import { collectDemonstrations, demonstrationExamples, fitTokenizer } from '../../../src/agent/policy/sft.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { TurngymError } from '../../../src/core/errors.js';
import { make, spec } from '../../../src/envs/registry.js';
import { Rng } from '../../../src/core/rng.js';
import '../../../src/envs/builtin.js';

const ID = 'puzzle/guess-number-v0';
const tiny = { layers: 1, width: 32, heads: 2, contextLength: 128 };
let tokenizer: Tokenizer;
let directory: string;

beforeAll(async () => {
  await initBackend('wasm', () => {});
  const env = await make(ID);
  tokenizer = fitTokenizer(env.spec, await collectDemonstrations(env, [100, 101, 102, 103, 104, 105, 106, 107]));
  await env.close();
  directory = await mkdtemp(join(tmpdir(), 'turngym-policy-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function contexts(): number[][] {
  return [
    tokenizer.encode('I am thinking of an integer from 1 to 32.'),
    tokenizer.encode('guess'),
    tokenizer.encode('16: higher. 24: lower. 20: higher.'),
  ];
}

describe('ops', () => {
  it('matMul and gatherRows have the gradients of their tfjs originals', () => {
    const a = tf.randomNormal([5, 3], 0, 1, 'float32', 1);
    const b = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const weights = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y), weights)))([a, b]);
    // The reference: the product written as a broadcast sum, whose gradients tfjs derives itself.
    const reference = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.sum(tf.mul(tf.expandDims(x, 2), tf.expandDims(y, 0)), 1), weights)),
    )([a, b]);
    expectClose(ours[0]!, reference[0]!);
    expectClose(ours[1]!, reference[1]!);

    const table = tf.randomNormal([6, 3], 0, 1, 'float32', 4);
    const indices = tf.tensor1d([0, 2, 2, 5], 'int32');
    const upstream = tf.randomNormal([4, 3], 0, 1, 'float32', 5);
    const [gathered] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(gatherRows(t as tf.Tensor2D, indices), upstream)))([
      table,
    ]);
    const [oneHot] = tf.grads((t: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(tf.oneHot(indices, 6).toFloat(), t as tf.Tensor2D), upstream)),
    )([table]);
    expectClose(gathered!, oneHot!);
  });

  it('matMul takes its faster routes with the same values and gradients: tall operands, batches by the SIMD kernel', () => {
    // Batches run on batched-product.ts's kernel (a decoding step's one query row too); [40, 8] x [8, 3] has
    // a gradient dB computed as (dY^T A)^T, since dY is narrower than A.
    for (const [shapeA, shapeB] of [
      [
        [16, 64, 32],
        [16, 32, 64],
      ],
      [
        [16, 64, 64],
        [16, 64, 32],
      ],
      [
        [6, 1, 13],
        [6, 13, 21],
      ],
      [
        [40, 8],
        [8, 3],
      ],
    ] as const) {
      const a = tf.randomNormal(shapeA as unknown as number[], 0, 1, 'float32', 6);
      const b = tf.randomNormal(shapeB as unknown as number[], 0, 1, 'float32', 7);
      const outShape = [...shapeA.slice(0, -1), shapeB[shapeB.length - 1]!];
      const weights = tf.randomNormal(outShape, 0, 1, 'float32', 8);
      expectClose(matMul(a, b), tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D));
      const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y), weights)))([a, b]);
      const reference = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D), weights)),
      )([a, b]);
      expectClose(ours[0]!, reference[0]!);
      expectClose(ours[1]!, reference[1]!);
    }
  });

  it('clones share their data on wasm (what custom gradients save), and outlive the original', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    const before = tf.memory().numTensors;
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before - 2);
    expect(() => y.dataSync()).toThrow(/disposed/);
  });

  it('layerNorm has the value and gradients of the formula written with plain ops', () => {
    const x = tf.randomNormal([7, 5], 0, 2, 'float32', 9);
    const scale = tf.randomNormal([5], 1, 0.5, 'float32', 10);
    const shift = tf.randomNormal([5], 0, 1, 'float32', 11);
    const upstream = tf.randomNormal([7, 5], 0, 1, 'float32', 12);
    const plain = (input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const centered = tf.sub(input, tf.mean(input, -1, true));
      return tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(tf.mean(tf.square(centered), -1, true), 1e-5))), g), b);
    };
    expectClose(layerNorm(x as tf.Tensor2D, scale as tf.Tensor1D, shift as tf.Tensor1D), plain(x, scale, shift));
    const ours = tf.grads((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(layerNorm(input as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), upstream)),
    )([x, scale, shift]);
    const reference = tf.grads((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(plain(input, g, b), upstream)),
    )([x, scale, shift]);
    ours.forEach((gradient, index) => expectClose(gradient, reference[index]!));
  });
});

describe('Policy', () => {
  it('samples the same tokens and log-probs with the KV cache as with full recomputation', () => {
    const policy = Policy.create({ tokenizer, model: tiny, seed: 1, maxActionTokens: 12 });
    try {
      const cached = policy.sample(contexts(), { rng: Rng.fromSeed(7), maxTokens: 12 });
      const full = policy.sample(contexts(), { rng: Rng.fromSeed(7), maxTokens: 12, incremental: false });
      expect(cached.map((s) => s.tokens)).toEqual(full.map((s) => s.tokens));
      cached.forEach((sample, row) => {
        expect(sample.tokens.length).toBeGreaterThan(0);
        sample.logprobs.forEach((logprob, index) => expect(logprob).toBeCloseTo(full[row]!.logprobs[index]!, 4));
        sample.entropies.forEach((entropy, index) => expect(entropy).toBeCloseTo(full[row]!.entropies[index]!, 4));
      });
    } finally {
      policy.dispose();
    }
  });

  it('scores sampled continuations with the log-probs sampling reported, at any temperature', () => {
    const policy = Policy.create({ tokenizer, model: tiny, seed: 2, maxActionTokens: 10 });
    try {
      for (const temperature of [1, 0.7]) {
        const samples = policy.sample(contexts(), { rng: Rng.fromSeed(3), maxTokens: 10, temperature });
        // One batch, and batches of a single sequence each (what a small maxBatchTokens gives): the same scores.
        for (const maxBatchTokens of [8192, 1]) {
          const scores = policy.score(
            contexts(),
            samples.map((s) => s.tokens),
            { temperature, maxBatchTokens },
          );
          expect(scores).toHaveLength(samples.length);
          samples.forEach((sample, row) => {
            expect(scores[row]).toHaveLength(sample.tokens.length);
            sample.logprobs.forEach((logprob, index) => expect(scores[row]![index]!).toBeCloseTo(logprob, 4));
          });
        }
      }
      // More rows than maxBatchTokens allows are sampled in several batches, in order: the same greedy rows.
      const forward = vi.spyOn(policy.model, 'forward');
      const whole = policy.sample(contexts(), { temperature: 0, maxTokens: 10 });
      const batchesOfWhole = forward.mock.calls.map(([input]) => input.tokens.shape[0]);
      forward.mockClear();
      const split = policy.sample(contexts(), { temperature: 0, maxTokens: 10, maxBatchTokens: 1 });
      expect(forward.mock.calls.every(([input]) => input.tokens.shape[0] === 1)).toBe(true);
      expect(batchesOfWhole[0]).toBe(contexts().length);
      forward.mockRestore();
      expect(split.map((s) => s.tokens)).toEqual(whole.map((s) => s.tokens));
      expect(new Set(whole.map((s) => s.text)).size).toBeGreaterThan(1); // distinct rows, so the order is checked
      // Greedy sampling picks the most likely token at every step.
      const [greedy] = policy.sample([contexts()[0]!], { temperature: 0, maxTokens: 5 });
      const entropiesPositive = greedy!.entropies.every((entropy) => entropy > 0);
      expect(entropiesPositive).toBe(true);
      expect(() => policy.sample([Array(125).fill(300)], { maxTokens: 10 })).toThrow(
        'exceeds the context length 128; fit the context with buildContext first',
      );
    } finally {
      policy.dispose();
    }
  });

  it('overfits a handful of demonstrations until it plays them back exactly', async () => {
    const env = await make(ID);
    const seeds = [0, 1, 2, 3];
    const demonstrations = await collectDemonstrations(env, seeds);
    const policy = Policy.create({
      tokenizer,
      model: { layers: 1, width: 64, heads: 2, contextLength: 256 },
      optimizer: { learningRate: 3e-3 },
      seed: 3,
      maxActionTokens: 12,
    });
    try {
      const batch = demonstrations.flatMap((transcript) => demonstrationExamples(policy, env.spec, transcript));
      expect(batch).toHaveLength(4);
      let loss = Infinity;
      const first = policy.update(() => tf.neg(tf.mean(policy.tokenLogprobs(batch).logprobs)) as tf.Scalar).loss;
      for (let step = 0; step < 400 && loss > 0.01; step++) {
        loss = policy.update(() => tf.neg(tf.mean(policy.tokenLogprobs(batch).logprobs)) as tf.Scalar).loss;
      }
      expect(loss).toBeLessThan(0.01);
      expect(first).toBeGreaterThan(3);
      const agent = new PolicyAgent(policy, { temperature: 0 });
      for (const [index, seed] of seeds.entries()) {
        const replay = await runEpisode(env, agent, { seed });
        expect(replay.turns.map((turn) => turn.action)).toEqual(
          demonstrations[index]!.turns.map((turn) => renderAction(turn.action)),
        );
        expect(replay.success).toBe(true);
      }
    } finally {
      policy.dispose();
      await env.close();
    }
  });

  it('leaves the tool list out of what it reads when its model says so, in play and in behaviour cloning', async () => {
    const env = await make(ID);
    const [demonstration] = await collectDemonstrations(env, [0]);
    const withTools = Policy.create({ tokenizer, model: { ...tiny, contextLength: 256 } });
    const without = Policy.create({ tokenizer, model: { ...tiny, contextLength: 256, toolsInContext: false } });
    try {
      const tools = encodeSegment(headerSegments(env.spec, demonstration!.prompt)[0]!, tokenizer);
      expect(tools[0]).toBe(tokenizer.special(roleToken('tools')));
      expect(tools.length).toBeGreaterThan(10);
      const [a] = demonstrationExamples(withTools, env.spec, demonstration!);
      const [b] = demonstrationExamples(without, env.spec, demonstration!);
      expect(b!.tokens).toEqual(a!.tokens.slice(tools.length));
      expect(b!.targetMask).toEqual(a!.targetMask.slice(tools.length));
      const context = new EpisodeContext(env.spec, demonstration!.prompt);
      expect(context.context(without)).toEqual(context.context(withTools).slice(tools.length));
      expect(context.context(without)).not.toContain(tokenizer.special(roleToken('tools')));
      // Saved and loaded with the model; a checkpoint from before the option reads as the tools in context.
      const path = join(directory, 'without-tools');
      await saveCheckpoint(without, path);
      const loaded = await loadCheckpoint(path);
      expect(loaded.config.toolsInContext).toBe(false);
      loaded.dispose();
      const config = JSON.parse(await readFile(join(path, 'config.json'), 'utf8'));
      delete config.model.toolsInContext;
      await writeFile(join(path, 'config.json'), JSON.stringify(config));
      const old = await loadCheckpoint(path);
      expect(old.config.toolsInContext).toBe(true);
      old.dispose();
    } finally {
      withTools.dispose();
      without.dispose();
      await env.close();
    }
  });

  it('gives per-token log-probs and entropies to differentiate, and a finite update', () => {
    const policy = Policy.create({ tokenizer, model: tiny, seed: 4, maxActionTokens: 10 });
    try {
      const sequence = { tokens: [1, 2, 3, 4, 5], targetMask: [0, 0, 1, 1, 0] };
      const result = tf.tidy(() => {
        const { logprobs, entropies, counts } = policy.tokenLogprobs([
          sequence,
          { tokens: [7, 8], targetMask: [0, 1] },
        ]);
        return { logprobs: logprobs.arraySync(), entropies: entropies.arraySync(), counts };
      });
      expect(result.counts).toEqual([2, 1]);
      expect(result.logprobs).toHaveLength(3);
      expect(result.logprobs.every((value) => value < 0)).toBe(true);
      expect(result.entropies.every((value) => value > 0 && value <= Math.log(tokenizer.vocabSize) + 1e-4)).toBe(true);
      const { loss, gradNorm } = policy.update(
        () => tf.neg(tf.mean(policy.tokenLogprobs([sequence]).logprobs)) as tf.Scalar,
      );
      expect(Number.isFinite(loss) && Number.isFinite(gradNorm) && gradNorm > 0).toBe(true);
      expect(policy.optimizer.step).toBe(1);
    } finally {
      policy.dispose();
    }
  });
});

describe('checkpoints', () => {
  it('round-trips weights, optimizer state, tokenizer and config', async () => {
    const policy = Policy.create({ tokenizer, model: tiny, seed: 5, maxActionTokens: 10 });
    policy.update(
      () => tf.neg(tf.mean(policy.tokenLogprobs([{ tokens: [1, 2, 3], targetMask: [0, 1, 1] }]).logprobs)) as tf.Scalar,
    );
    const path = join(directory, 'round-trip');
    await saveCheckpoint(policy, path, { note: 'test' });
    const loaded = await loadCheckpoint(path);
    try {
      expect(loaded.config).toEqual(policy.config);
      expect(loaded.maxActionTokens).toBe(10);
      expect(loaded.tokenizer.fingerprint()).toBe(tokenizer.fingerprint());
      expect(loaded.optimizer.step).toBe(1);
      expect(loaded.optimizer.state().tensors.map((t) => Array.from(t.values))).toEqual(
        policy.optimizer.state().tensors.map((t) => Array.from(t.values)),
      );
      const a = policy.sample(contexts(), { rng: Rng.fromSeed(9) });
      const b = loaded.sample(contexts(), { rng: Rng.fromSeed(9) });
      expect(b).toEqual(a);
    } finally {
      policy.dispose();
      loaded.dispose();
    }
  });

  it('ties the output head to the token embedding when asked: no head weights, logits = hidden x embedding^T, round-trips', async () => {
    const policy = Policy.create({ tokenizer, model: { ...tiny, tiedEmbeddings: true }, seed: 5, maxActionTokens: 10 });
    const untied = Policy.create({ tokenizer, model: tiny, seed: 5, maxActionTokens: 10 });
    const path = join(directory, 'tied');
    try {
      expect(policy.model.variables.has('head')).toBe(false);
      expect(untied.model.parameterCount - policy.model.parameterCount).toBe(tiny.width * tokenizer.vocabSize);
      const [logits, expected] = tf.tidy(() => {
        const hidden = tf.randomNormal([3, tiny.width], 0, 1, 'float32', 1) as tf.Tensor2D;
        const embedding = policy.model.variables.get('token_embedding')!;
        return [policy.model.logits(hidden).arraySync(), tf.matMul(hidden, embedding, false, true).arraySync()];
      });
      expect((logits as number[][]).flat().map((v) => Number(v.toFixed(4)))).toEqual(
        (expected as number[][]).flat().map((v) => Number(v.toFixed(4))),
      );
      // One update moves the embedding through both its uses (input rows and output logits).
      const before = policy.model.variables.get('token_embedding')!.arraySync() as number[][];
      policy.update(
        () =>
          tf.neg(tf.mean(policy.tokenLogprobs([{ tokens: [1, 2, 3], targetMask: [0, 1, 1] }]).logprobs)) as tf.Scalar,
      );
      const after = policy.model.variables.get('token_embedding')!.arraySync() as number[][];
      expect(after[10]).not.toEqual(before[10]); // token 10 is not in the sequence: only the output use moves it
      await saveCheckpoint(policy, path);
      const loaded = await loadCheckpoint(path);
      try {
        expect(loaded.config.tiedEmbeddings).toBe(true);
        expect(loaded.sample(contexts(), { rng: Rng.fromSeed(9) })).toEqual(
          policy.sample(contexts(), { rng: Rng.fromSeed(9) }),
        );
      } finally {
        loaded.dispose();
      }
    } finally {
      policy.dispose();
      untied.dispose();
    }
  });

  it('refuses corrupted, incomplete and mismatched checkpoints with a clear error', async () => {
    const policy = Policy.create({ tokenizer, model: tiny, seed: 6, maxActionTokens: 10 });
    const path = join(directory, 'broken');
    await saveCheckpoint(policy, path);
    policy.dispose();
    const damaged =
      'Delete that checkpoint folder and use an earlier one (another checkpoints/step-* folder of the run), or save it again.';
    const expectError = async (message: string, exact = true) => {
      const error = await loadCheckpoint(path).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(TurngymError.is(error, 'BAD_CHECKPOINT')).toBe(true);
      if (exact) expect((error as Error).message).toBe(`Cannot load the checkpoint ${path}: ${message}`);
      else expect((error as Error).message).toContain(message);
    };
    const weights = await readFile(join(path, 'weights.bin'));
    const flipped = Buffer.from(weights);
    flipped[100] = flipped[100]! ^ 0xff;
    await writeFile(join(path, 'weights.bin'), flipped);
    await expectError(`weights.bin is corrupted: its SHA-256 does not match weights.json. ${damaged}`);
    await writeFile(join(path, 'weights.bin'), weights.subarray(0, 1000));
    await expectError(
      `weights.bin has 1000 bytes but weights.json says ${weights.length}: the file is truncated or corrupted. ${damaged}`,
    );
    await writeFile(join(path, 'weights.bin'), weights);

    const config = await readFile(join(path, 'config.json'), 'utf8');
    await writeFile(join(path, 'config.json'), config.slice(0, 40));
    await expectError(`Cannot load the checkpoint ${path}: config.json is truncated or not JSON (`, false);
    await expectError(`). ${damaged}`, false);
    const parsed = JSON.parse(config);
    await writeFile(join(path, 'config.json'), JSON.stringify({ ...parsed, model: { ...parsed.model, width: 64 } }));
    await expectError(
      "weights 'token_embedding' have shape [" +
        `${tokenizer.vocabSize},32] but the model config needs [${tokenizer.vocabSize},64]: the weights and config.json do not match.`,
    );
    await writeFile(join(path, 'config.json'), config);

    const otherTokenizer = Tokenizer.fit(['something else entirely', 'something else entirely']);
    await writeFile(join(path, 'tokenizer.json'), JSON.stringify(otherTokenizer.toJSON()));
    await expectError(
      `tokenizer.json does not match config.json (vocabulary ${otherTokenizer.vocabSize} vs ${tokenizer.vocabSize}, or a different fingerprint): the files come from different checkpoints.`,
    );
    await rm(join(path, 'tokenizer.json'));
    await expectError(
      `tokenizer.json is missing. A checkpoint directory holds config.json, tokenizer.json, weights.json and weights.bin (written by \`turngym sft\`, \`turngym train\` or saveCheckpoint). ${damaged}`,
    );
    await expect(loadCheckpoint(join(directory, 'nothing-here'))).rejects.toThrow(
      /config\.json is missing\. A checkpoint directory holds .* or saveCheckpoint\)\.$/,
    ); // no such folder: nothing damaged
  });
});

describe('initBackend', () => {
  it('explains why an optional backend is not available', async () => {
    await expect(initBackend('node', () => {})).rejects.toThrow(
      "Backend 'node' could not be loaded: node: @tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node).",
    );
    await expect(initBackend('tpu' as never, () => {})).rejects.toThrow(
      "Unknown backend 'tpu'. Use one of: auto, node-gpu, node, wasm, cpu.",
    );
    const lines: string[] = [];
    const choice = await initBackend('wasm', (line) => lines.push(line));
    expect(choice.name).toBe('wasm');
  });
});

function expectClose(actual: tf.Tensor, expected: tf.Tensor): void {
  const a = actual.dataSync();
  const b = expected.dataSync();
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a[i]!).toBeCloseTo(b[i]!, 4);
}
