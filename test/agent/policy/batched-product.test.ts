/**
 * The batched product kernel (src/agent/policy/batched-product.ts): its generated module is the compiled
 * source, and it computes tf.matMul's values on the wasm backend for every kind of shape its tiles meet.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileBatchedProduct, kernelModule } from '../../../scripts/build-kernels.js';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { batchedProduct } from '../../../src/agent/policy/batched-product.js';
import { readFile } from 'node:fs/promises';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('batched product kernel', () => {
  it('is the compiled source: src/agent/policy/batched-product-wasm.ts is what scripts/build-kernels.ts writes', async () => {
    const module = await readFile(
      new URL('../../../src/agent/policy/batched-product-wasm.ts', import.meta.url),
      'utf8',
    );
    expect(module).toBe(kernelModule(await compileBatchedProduct()));
  }, 60_000);

  it.each([
    [1, 1, 1, 1], // one of everything: the column-by-column path only
    [3, 4, 5, 8], // one 4 x 8 tile a channel
    [2, 7, 3, 19], // 4-row tiles, 1-row tiles for 3 rows, 3 columns one by one
    [5, 1, 32, 450], // a decoding step's scores: one query row
    [4, 9, 450, 32], // weighted sums over a long context
    [16, 64, 16, 64],
    [2, 0, 5, 8], // nothing to compute
  ])(
    'gives tf.matMul values for [%i, %i, %i] x [.., .., %i], and takes nothing it does not give back',
    (c, m, k, n) => {
      const a = tf.randomNormal([c, m, k], 0, 1, 'float32', 1) as tf.Tensor3D;
      const b = tf.randomNormal([c, k, n], 0, 1, 'float32', 2) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const ours = batchedProduct(a, b);
      expect(tf.memory().numTensors).toBe(before + 1);
      const reference = tf.matMul(a, b);
      expect(ours.shape).toEqual([c, m, n]);
      const [x, y] = [ours.dataSync(), reference.dataSync()];
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(y[i]!)));
      tf.dispose([a, b, ours, reference]);
      expect(tf.memory().numTensors).toBe(before - 2);
    },
  );

  it('reads its operands where the backend keeps them, views included, and leaves them as they were', () => {
    const base = tf.randomNormal([2, 6, 10], 0, 1, 'float32', 3);
    const a = tf.reshape(base, [4, 3, 10]) as tf.Tensor3D; // a reshape shares base's data
    const b = tf.randomNormal([4, 10, 9], 0, 1, 'float32', 4) as tf.Tensor3D;
    const [before, beforeB] = [a.dataSync().slice(), b.dataSync().slice()];
    const ours = batchedProduct(a, b);
    const reference = tf.matMul(a, b);
    const [x, y] = [ours.dataSync(), reference.dataSync()];
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(y[i]!)));
    expect([...a.dataSync()]).toEqual([...before]);
    expect([...b.dataSync()]).toEqual([...beforeB]);
    expect(() => batchedProduct(a, tf.zeros([4, 9, 9]) as tf.Tensor3D)).toThrow('do not multiply');
    tf.dispose([base, a, b, ours, reference]);
  });
});
