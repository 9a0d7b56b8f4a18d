/**
 * The kernels that copy memory (src/agent/policy/copy-kernels.ts) and the key-value cache written in place
 * (model.ts, decoder.ts): `writeSlice` gives concatenation's values on the wasm backend (in place) and on the cpu
 * backend (a new tensor); `takeRows` gives tf.gather's; a decoder whose cache has room, grows and reaches the
 * context's end gives at every token the logits of a pass over the whole sequence.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { Decoder } from '../../../src/agent/policy/decoder.js';
import { TransformerModel, attentionMask } from '../../../src/agent/policy/model.js';
import { takeRows, writeSlice } from '../../../src/agent/policy/copy-kernels.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

afterAll(async () => {
  await initBackend('wasm', () => {});
});

/** What writeSlice must give: target's values with update's at offset.. along axis, by plain arrays. */
function expected(target: tf.Tensor, update: tf.Tensor, axis: number, offset: number): number[] {
  const shape = target.shape;
  const out = [...target.dataSync()];
  const from = update.dataSync();
  const strides = shape.map((_, index) => shape.slice(index + 1).reduce((a, b) => a * b, 1));
  const updateStrides = update.shape.map((_, index) => update.shape.slice(index + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < from.length; i++) {
    const at = update.shape.map((_, index) => Math.floor(i / updateStrides[index]!) % update.shape[index]!);
    at[axis]! += offset;
    out[at.reduce((sum, coordinate, index) => sum + coordinate * strides[index]!, 0)] = from[i]!;
  }
  return out;
}

const CASES: [number[], number, number, number][] = [
  // target shape, axis, rows written, offset
  [[3, 2, 4, 9], 3, 1, 5], // a decoding step's keys (transposed): one column
  [[3, 2, 9, 4], 2, 1, 8], // its values: one row, at the last position
  [[2, 3, 40, 8], 2, 3, 0], // several rows at the start, each copied with set (24 floats)
  [[4, 7, 5], 1, 2, 3],
  [[5, 6], 0, 5, 0], // the whole tensor
  [[2, 3, 4], 2, 0, 4], // nothing written, at the end
];

describe('writeSlice', () => {
  it.each(CASES)(
    'writes [%j] along axis %i (%i positions at %i) in place on the wasm backend, one tensor added, none left behind',
    (shape, axis, size, offset) => {
      const target = tf.randomNormal(shape, 0, 1, 'float32', 1);
      const update = tf.randomNormal(
        shape.map((extent, index) => (index === axis ? size : extent)),
        0,
        1,
        'float32',
        2,
      );
      const want = expected(target, update, axis, offset);
      const before = tf.memory().numTensors;
      const written = writeSlice(target, update, axis, offset);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(written.shape).toEqual(shape);
      expect([...written.dataSync()]).toEqual(want);
      expect([...target.dataSync()]).toEqual(want); // in place: the target holds it too
      tf.dispose([target, update]);
      expect([...written.dataSync()]).toEqual(want); // the data lives while the result does
      written.dispose();
      expect(tf.memory().numTensors).toBe(before - 2);
    },
  );

  it('refuses what does not fit, with the shapes in the message', () => {
    const target = tf.zeros([2, 3, 4]);
    const update = tf.ones([2, 3, 2]);
    expect(() => writeSlice(target, update, 2, 3)).toThrow(/\[2,3,2\] does not fit \[2,3,4\] at 3 along axis 2/);
    expect(() => writeSlice(target, tf.ones([2, 2, 1]), 2, 0)).toThrow(/does not fit/);
    expect(() => writeSlice(target, tf.ones([2, 3, 1], 'int32'), 2, 0)).toThrow(/float32/);
    expect(() => writeSlice(target, tf.ones([2, 3, 1]), 2, -1)).toThrow(/does not fit/);
    tf.dispose([target, update]);
  });

  it('gives the same values on the cpu backend as a new tensor, leaving the target as it was', async () => {
    await initBackend('cpu', () => {});
    try {
      for (const [shape, axis, size, offset] of CASES) {
        const target = tf.randomNormal(shape, 0, 1, 'float32', 3);
        const update = tf.randomNormal(
          shape.map((extent, index) => (index === axis ? size : extent)),
          0,
          1,
          'float32',
          4,
        );
        const original = [...target.dataSync()];
        const want = expected(target, update, axis, offset);
        const before = tf.memory().numTensors;
        const written = writeSlice(target, update, axis, offset);
        expect(tf.memory().numTensors).toBe(before + 1);
        expect([...written.dataSync()]).toEqual(want);
        expect([...target.dataSync()]).toEqual(original);
        tf.dispose([target, update, written]);
      }
    } finally {
      await initBackend('wasm', () => {});
    }
  });
});

describe('takeRows', () => {
  it.each([
    [7, 5, [0, 6, 3, 3, 0]], // repeated rows
    [600, 96, Array.from({ length: 300 }, (_, i) => (i * 37) % 600)],
    [4, 3, []], // no rows
  ])('gives tf.gather values for a table of %i x %i, one tensor added', (rows, width, at) => {
    const table = tf.randomNormal([rows, width], 0, 1, 'float32', 5) as tf.Tensor2D;
    const indices = tf.tensor1d(at, 'int32');
    const before = tf.memory().numTensors;
    const ours = takeRows(table, indices);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(ours.shape).toEqual([at.length, width]);
    const reference = tf.gather(table, indices);
    expect([...ours.dataSync()]).toEqual([...reference.dataSync()]);
    tf.dispose([table, indices, ours, reference]);
  });

  it('refuses an index outside the table, and takes nothing', () => {
    const table = tf.zeros([4, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    for (const bad of [4, -1]) {
      const indices = tf.tensor1d([0, bad], 'int32');
      expect(() => takeRows(table, indices)).toThrow(`takeRows: index ${bad} is not a row of a table of 4`);
      indices.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => takeRows(table, tf.tensor1d([0], 'float32') as tf.Tensor1D)).toThrow(/int32 indices/);
    table.dispose();
  });
});

describe('a decoder whose cache has room', () => {
  const config = { vocabSize: 50, layers: 2, width: 32, heads: 4, contextLength: 90 };
  // Rows of different lengths (left padding), decoded to the context's end: the cache gets room after the first
  // pass, fills it, grows twice and is then capped by the context length.
  const contexts = [
    Array.from({ length: 14 }, (_, t) => (t * 7 + 3) % 50),
    Array.from({ length: 9 }, (_, t) => (t * 11 + 1) % 50),
    Array.from({ length: 17 }, (_, t) => (t * 5 + 2) % 50),
  ];

  it.each([false, true])(
    'gives at every token the logits of a pass over the whole sequence (copy head: %s), and leaves no tensor',
    (copy) => {
      const model = new TransformerModel({ ...config, copy, copyPrevious: copy ? 2 : 0 }, 5);
      const before = tf.memory().numTensors;
      const cached = new Decoder(model, contexts, 0, true);
      const full = new Decoder(model, contexts, 0, false);
      cached.send();
      full.send();
      let tokens = 17;
      let largest = 0;
      for (let step = 0; tokens < config.contextLength; step++, tokens++) {
        const [a, b] = [cached.receive(), full.receive()];
        for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
        const next = contexts.map((_, row) => (step * 13 + row * 7) % 50);
        cached.send(next);
        full.send(next);
      }
      cached.receive();
      full.receive();
      expect(largest).toBeLessThan(1e-4);
      // Past the context's end the pass is refused, as without room.
      expect(() => cached.send([1, 2, 3])).toThrow(/exceeds the context length 90/);
      cached.dispose();
      full.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    },
  );

  it('still takes a cache without room (the keys of a full pass) and extends it into a new one', () => {
    const model = new TransformerModel(config, 6);
    const ids = [[3, 4, 5, 6, 7, 8]];
    const whole = tf.tidy(() => model.forward({ tokens: tf.tensor2d(ids, [1, 6], 'int32') }).hidden.dataSync());
    const result = tf.tidy(() => {
      const first = model.forward({ tokens: tf.tensor2d([ids[0]!.slice(0, 5)], [1, 5], 'int32') });
      const next = model.forward({
        tokens: tf.tensor2d([[8]], [1, 1], 'int32'),
        positions: tf.tensor2d([[5]], [1, 1], 'int32'),
        mask: attentionMask(1, 1, 5),
        cache: first.cache,
      });
      expect(next.cache[0]!.keysT.shape[3]).toBe(6);
      expect(next.cache[0]!.length).toBe(6);
      return next.hidden.dataSync();
    });
    const last = whole.slice(5 * 32);
    for (let i = 0; i < 32; i++) expect(Math.abs(result[i]! - last[i]!)).toBeLessThan(1e-5);
    model.dispose();
  });
});
