/**
 * Differentiable ops written for the wasm backend's strengths and gaps, used by the model in place of
 * their tfjs originals:
 *
 * - `matMul`: the built-in gradient of matMul multiplies with transpose flags, which the wasm backend runs
 *   about 11x slower than an explicit transpose followed by a plain product; this one transposes first.
 * - batched products (attention): the wasm backend multiplies a batch of matrices with a plain loop, at a tenth
 *   of the rate of its 2-D products (XNNPACK) or less (9.5 ms for a decoding step's [64, 1, 32] x [64, 32, 450]),
 *   and 2-D products cannot stand in for it (each call packs its right operand anew). On the wasm backend they
 *   run on this package's SIMD kernel (batched-product.ts), every shape, a decoding step's one query row
 *   included: 3 to 5 times the depthwise-convolution route this module took before on training shapes, and
 *   40 times the plain loop on a decoding step's.
 * - `gatherRows`: the built-in gradient of gather needs UnsortedSegmentSum, which the wasm backend lacks;
 *   this one scatters the gradient with ScatterNd (which sums rows of repeated indices).
 * - `scatterAdd`: ScatterNd, which has no built-in gradient, with its gradient (GatherNd): the copy head adds
 *   each position's pointer weight onto its token.
 *
 * Each computes the values of its original on every backend (a batched product on wasm sums in another order).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchedProduct } from './batched-product.js';
import { takeRows } from './copy-kernels.js';

/** Swaps the last two axes (an explicit transpose, materialised). */
export function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const rank = x.rank;
  const permutation = Array.from({ length: rank }, (_, axis) => axis);
  permutation[rank - 2] = rank - 1;
  permutation[rank - 1] = rank - 2;
  return tf.transpose(x, permutation);
}

/** The product of two operands of rank 2, or of two batches of the same size (rank 3), by the fastest route. */
function product(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank === 3 && tf.getBackend() === 'wasm') return batchedProduct(a as tf.Tensor3D, b as tf.Tensor3D);
  return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
}

/**
 * Transposes of saved operands, by their data (a saved tensor shares its input's data: see backend.ts): the
 * products of one input with several weights (queries, keys and values of one normalised input) transpose it
 * once in the backward pass. An entry whose tensor is disposed (its backward pass has ended) is made again.
 */
const transposed = new WeakMap<object, tf.Tensor>();

function transposeOnce(x: tf.Tensor): tf.Tensor {
  const cached = transposed.get(x.dataId);
  if (cached && !cached.isDisposed) return cached;
  const result = swapLastAxes(x);
  transposed.set(x.dataId, result);
  return result;
}

const matMulExplicit = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: product(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved as [tf.Tensor, tf.Tensor];
      // dB = A^T dY; of a tall A [M, K] and dY [M, N], transpose the narrower one: (dY^T A)^T when N < K.
      const gradB =
        dy.rank === 2 && dy.shape[1]! < savedA.shape[1]!
          ? swapLastAxes(product(swapLastAxes(dy), savedA))
          : product(transposeOnce(savedA), dy);
      return [product(dy, swapLastAxes(savedB)), gradB];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `a x b` for 2-D or batched 3-D operands of the same rank (batches of the same size); its gradient uses no transpose flags. */
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
      value: takeRows(source as tf.Tensor2D, indices),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.scatterND(tf.expandDims(saved[0]!, 1), dy, [rows, source.shape[1]!]),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (source: tf.Tensor) => tf.Tensor;
  return gather(table) as tf.Tensor2D;
}

/**
 * A [rows, columns] tensor of zeros with each `updates[i]` added at `indices[i]` ([N, 2]: row, column; repeated
 * indices sum). Its gradient gathers: d/dupdates[i] = dy[indices[i]].
 */
export function scatterAdd(indices: tf.Tensor2D, updates: tf.Tensor1D, shape: [number, number]): tf.Tensor2D {
  const scatter = tf.customGrad(((values: tf.Tensor, save: tf.GradSaveFunc) => {
    save([indices]);
    return {
      value: tf.scatterND(indices, values, shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gatherND(dy, saved[0]!),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (values: tf.Tensor) => tf.Tensor;
  return scatter(updates) as tf.Tensor2D;
}

/** Sums of the columns of a 2-D tensor, [1, N]: a product with a row of ones, where Sum over axis 0 transposes first. */
function columnSums(x: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.ones([1, x.shape[0]]) as tf.Tensor2D, x);
}

/**
 * `x * scale + shift` for rows x [N, D] and per-column scale and shift [D]. The built-in gradients of the
 * broadcast sum over the rows with Sum(axis 0), which the wasm backend runs about 80x slower than a
 * product with a row of ones.
 */
const scaleAndShift = tf.customGrad(((x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, scale]);
  return {
    value: tf.add(tf.mul(x, scale), shift),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedX, savedScale] = saved as [tf.Tensor2D, tf.Tensor1D];
      const width = savedScale.shape[0];
      return [
        tf.mul(dy, savedScale),
        tf.reshape(columnSums(tf.mul(dy, savedX) as tf.Tensor2D), [width]),
        tf.reshape(columnSums(dy as tf.Tensor2D), [width]),
      ];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor,
  scale: tf.Tensor,
  shift: tf.Tensor,
) => tf.Tensor;

/** Layer normalisation over the last axis with a learned scale and shift. */
export function layerNorm(x: tf.Tensor2D, scale: tf.Tensor1D, shift: tf.Tensor1D, epsilon = 1e-5): tf.Tensor2D {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return scaleAndShift(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), scale, shift) as tf.Tensor2D;
}
