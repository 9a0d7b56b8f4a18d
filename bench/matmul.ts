/**
 * The matrix-product ceiling the model benchmarks compare against: a backend's rate on one large matrix
 * product, measured in the same run as the figures it scales. It takes the TensorFlow.js instance to measure,
 * so that `bench train` measures the one a baseline's source tree loads (see train-side.ts).
 */
import type * as tfjs from '@tensorflow/tfjs-core';
import { now } from './stats.js';

/** The parts of TensorFlow.js the ceiling needs. */
export type MatmulTf = Pick<typeof tfjs, 'randomNormal' | 'matMul' | 'dispose'>;

/** GFLOP/s of one [size, size] x [size, size] product on `tf`'s backend, after one untimed product. */
export function matmulRate(tf: MatmulTf, size = 1024): number {
  const a = tf.randomNormal([size, size], 0, 1, 'float32', 1);
  const b = tf.randomNormal([size, size], 0, 1, 'float32', 2);
  tf.matMul(a, b).dispose(); // warm-up (operator creation, weight packing)
  const start = now();
  const product = tf.matMul(a, b);
  product.dataSync();
  const milliseconds = now() - start;
  tf.dispose([a, b, product]);
  return (2 * size ** 3) / milliseconds / 1e6;
}
