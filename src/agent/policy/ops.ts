/**
 * Differentiable ops written for the wasm backend's strengths and gaps, used by the model in place of
 * their tfjs originals:
 *
 * - `matMul`: the built-in gradient of matMul multiplies with transpose flags, which the wasm backend runs
 *   about 11x slower than an explicit transpose followed by a plain product; this one transposes first.
 * - `gatherRows`: the built-in gradient of gather needs UnsortedSegmentSum, which the wasm backend lacks;
 *   this one scatters the gradient with ScatterNd (which sums rows of repeated indices).
 *
 * Both compute the same values as the originals on every backend.
 */
import * as tf from '@tensorflow/tfjs';

/** Swaps the last two axes (an explicit transpose, materialised). */
export function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const rank = x.rank;
  const permutation = Array.from({ length: rank }, (_, axis) => axis);
  permutation[rank - 2] = rank - 1;
  permutation[rank - 1] = rank - 2;
  return tf.transpose(x, permutation);
}

const matMulExplicit = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved as [tf.Tensor, tf.Tensor];
      return [tf.matMul(dy as tf.Tensor2D, swapLastAxes(savedB) as tf.Tensor2D), tf.matMul(swapLastAxes(savedA) as tf.Tensor2D, dy as tf.Tensor2D)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `a x b` for 2-D or batched 3-D operands of the same rank; its gradient uses no transpose flags. */
export function matMul<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  return matMulExplicit(a, b) as T;
}

/** Rows `indices` of a 2-D `table`; the gradient is scattered back with ScatterNd. */
export function gatherRows(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  const rows = table.shape[0];
  const gather = tf.customGrad(((source: tf.Tensor, save: tf.GradSaveFunc) => {
    // The indices are saved (kept) for the backward pass: tensors made in the forward function are freed.
    save([indices]);
    return {
      value: tf.gather(source, indices),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(tf.expandDims(saved[0]!, 1), dy, [rows, source.shape[1]!]),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (source: tf.Tensor) => tf.Tensor;
  return gather(table) as tf.Tensor2D;
}

/** Layer normalisation over the last axis with a learned scale and shift. */
export function layerNorm(x: tf.Tensor2D, scale: tf.Tensor1D, shift: tf.Tensor1D, epsilon = 1e-5): tf.Tensor2D {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), scale), shift);
}
