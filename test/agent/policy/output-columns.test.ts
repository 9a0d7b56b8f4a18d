/**
 * `forward({ columns })` (src/agent/policy/model.ts): the last block runs on the rows asked for alone. Those rows
 * must hold the values of a full pass, and their gradients must be a full pass's, with the default causal mask,
 * with a mask of its own per sequence (left padding, as the decoder's first pass) and after a cache; the keys
 * and values it leaves in the cache are those of every position. `targetLogprobs` takes that route for a model
 * without a copy head: its log-probs are checked against a full pass's here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { targetLogprobs } from '../../../src/agent/policy/logprobs.js';
import { TransformerModel, attentionMask, type ForwardInput } from '../../../src/agent/policy/model.js';
import { gatherRows } from '../../../src/agent/policy/ops.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

afterAll(async () => {
  await initBackend('wasm', () => {});
});

const config = { vocabSize: 40, layers: 3, width: 32, heads: 4, contextLength: 64 };

function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

/** The rows of a full pass's hidden states [B * T, width] that `columns` names, laid out as forward lays them. */
function fullRows(hidden: Float32Array, columns: number[][], length: number, width: number): number[] {
  const perSequence = Math.max(1, ...columns.map((listed) => listed.length));
  const out: number[] = [];
  columns.forEach((listed, b) => {
    for (let q = 0; q < perSequence; q++) {
      const t = listed[Math.min(q, listed.length - 1)] ?? 0;
      out.push(...hidden.slice((b * length + t) * width, (b * length + t + 1) * width));
    }
  });
  return out;
}

const tokens = [
  [1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 2, 6],
  [3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 4, 8],
  [30, 20, 10, 0, 12, 22, 32, 14, 24, 34, 16, 26],
];
// Uneven lists (padded by repeating the last), an empty one (column 0), the first and last columns.
const columns = [[0, 4, 11], [], [2, 3, 7, 8, 10]];

describe('forward with columns', () => {
  it.each([
    ['the default causal mask', () => ({})],
    [
      'a mask of its own per sequence (left padding) and positions',
      () => {
        const valid = tokens.map((row, b) => row.map((_, t) => t >= b * 2));
        return {
          mask: attentionMask(3, 12, 0, valid),
          positions: tf.tensor2d(
            tokens.map((row, b) => row.map((_, t) => Math.max(0, t - b * 2))),
            [3, 12],
            'int32',
          ),
        };
      },
    ],
  ] as [string, () => Partial<ForwardInput>][])('gives the rows of a full pass (%s)', (_, extra) => {
    const model = new TransformerModel(config, 3);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const input = { tokens: tf.tensor2d(tokens, [3, 12], 'int32'), ...extra() };
      const full = model.forward(input);
      const only = model.forward({ ...input, columns });
      expect(only.hidden.shape).toEqual([3 * 5, 32]);
      const want = fullRows(full.hidden.dataSync() as Float32Array, columns, 12, 32);
      expect(largestDifference(only.hidden.dataSync(), want)).toBeLessThan(1e-5);
      // The cache of every block still holds every position's keys and values.
      full.cache.forEach((layer, index) => {
        expect(largestDifference(only.cache[index]!.keysT.dataSync(), layer.keysT.dataSync())).toBe(0);
        expect(largestDifference(only.cache[index]!.values.dataSync(), layer.values.dataSync())).toBe(0);
      });
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('gives the rows of a full pass after a cache (columns of the new tokens)', () => {
    const model = new TransformerModel(config, 4);
    tf.tidy(() => {
      const first = model.forward({
        tokens: tf.tensor2d(
          tokens.map((row) => row.slice(0, 8)),
          [3, 8],
          'int32',
        ),
      });
      const rest = tf.tensor2d(
        tokens.map((row) => row.slice(8)),
        [3, 4],
        'int32',
      );
      const positions = tf.tensor2d(
        tokens.map(() => [8, 9, 10, 11]),
        [3, 4],
        'int32',
      );
      const common = { tokens: rest, positions, mask: attentionMask(1, 4, 8), cache: first.cache };
      const full = model.forward(common).hidden.dataSync() as Float32Array;
      const picked = [[3], [0, 2], [1]];
      const only = model.forward({ ...common, columns: picked }).hidden.dataSync();
      expect(largestDifference(only, fullRows(full, picked, 4, 32))).toBeLessThan(1e-5);
    });
    model.dispose();
  });

  it('gives the gradients of a full pass', () => {
    const model = new TransformerModel(config, 5);
    const variables = [...model.variables.values()];
    // A loss of the listed rows' logits alone (each weighted differently), by either route.
    const listed = columns.flatMap((row, b) => row.map((t) => [b, t] as const));
    const weights = tf.tensor2d(
      listed.map((_, i) => Array.from({ length: 40 }, (__, j) => Math.sin(i * 3 + j))),
      [listed.length, 40],
    );
    const gradients = (useColumns: boolean) =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const input = { tokens: tf.tensor2d(tokens, [3, 12], 'int32') };
          let rows: tf.Tensor2D;
          if (useColumns) {
            const hidden = model.forward({ ...input, columns }).hidden;
            rows = gatherRows(hidden, tf.tensor1d([0, 1, 2, 10, 11, 12, 13, 14], 'int32'));
          } else {
            rows = gatherRows(
              model.forward(input).hidden,
              tf.tensor1d(
                listed.map(([b, t]) => b * 12 + t),
                'int32',
              ),
            );
          }
          return tf.sum(tf.mul(model.logits(rows), weights)) as tf.Scalar;
        }, variables);
        return variables.map((variable) => grads[variable.name]!.dataSync() as Float32Array);
      });
    const full = gradients(false);
    const only = gradients(true);
    let largest = 0;
    let scale = 0;
    full.forEach((values, index) => {
      largest = Math.max(largest, largestDifference(values, only[index]!));
      for (const value of values) scale = Math.max(scale, Math.abs(value));
    });
    expect(scale).toBeGreaterThan(0.01);
    expect(largest / scale).toBeLessThan(1e-4);
    weights.dispose();
    model.dispose();
  });

  it('refuses a column outside the pass and a list per sequence that does not match the batch', () => {
    const model = new TransformerModel(config, 6);
    const input = () => ({ tokens: tf.tensor2d(tokens, [3, 12], 'int32') });
    expect(() => tf.tidy(() => model.forward({ ...input(), columns: [[0], [12], [1]] }))).toThrow(
      /column 12 is outside a pass of 12/,
    );
    expect(() => tf.tidy(() => model.forward({ ...input(), columns: [[0], [1]] }))).toThrow(
      /columns lists 2 sequences for a batch of 3/,
    );
    // A mask broadcast over the queries cannot say which of its rows a column takes.
    expect(() =>
      tf.tidy(() =>
        model.forward({ ...input(), mask: tf.zeros([3, 1, 1, 12]) as tf.Tensor4D, columns: [[0], [1], [2]] }),
      ),
    ).toThrow(/columns need a mask of a row a query/);
    model.dispose();
  });
});

describe('targetLogprobs of a model without a copy head', () => {
  it("gives a full pass's log-probs and entropies (sequences of different lengths and target counts)", () => {
    const model = new TransformerModel(config, 7);
    const sequences = [
      { tokens: tokens[0]!, targetMask: tokens[0]!.map((_, t) => (t >= 9 ? 1 : 0)) },
      { tokens: tokens[1]!.slice(0, 7), targetMask: [0, 1, 0, 0, 1, 1, 0] },
      { tokens: tokens[2]!.slice(0, 10), targetMask: tokens[2]!.slice(0, 10).map(() => 0) },
      { tokens: tokens[2]!, targetMask: tokens[2]!.map((_, t) => (t % 2 === 0 ? 1 : 0)) },
    ];
    const got = tf.tidy(() => {
      const { logprobs, entropies, counts } = targetLogprobs(model, sequences, { pad: 0, temperature: 0.7 });
      return { logprobs: logprobs.dataSync(), entropies: entropies.dataSync(), counts };
    });
    expect(got.counts).toEqual([3, 3, 0, 5]);
    // By hand: a full pass of each sequence alone, the logits of each target's previous row.
    const logprobs: number[] = [];
    const entropies: number[] = [];
    tf.tidy(() => {
      for (const sequence of sequences) {
        const hidden = model.forward({
          tokens: tf.tensor2d([[...sequence.tokens]], [1, sequence.tokens.length], 'int32'),
        }).hidden;
        const logp = tf.logSoftmax(tf.div(model.logits(hidden), 0.7)).arraySync() as number[][];
        for (let t = 1; t < sequence.tokens.length; t++) {
          if (sequence.targetMask[t] !== 1) continue;
          const row = logp[t - 1]!;
          logprobs.push(row[sequence.tokens[t]!]!);
          entropies.push(-row.reduce((sum, value) => sum + Math.exp(value) * value, 0));
        }
      }
    });
    expect(largestDifference(got.logprobs, logprobs)).toBeLessThan(1e-4);
    expect(largestDifference(got.entropies, entropies)).toBeLessThan(1e-4);
    model.dispose();
  });
});
