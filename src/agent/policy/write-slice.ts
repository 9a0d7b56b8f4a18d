/**
 * Writing a slice into a tensor in place, for the key-value cache of decoding (model.ts, decoder.ts): a decoding
 * step's keys and values go into a cache with room for more positions instead of a new cache made by
 * concatenation every token. On the wasm backend the concatenation of a cache along its last axes was half of a
 * decoding step's kernel time at 128 rows (a copy of the whole cache, in JavaScript, row by row); a write touches
 * only the new positions.
 *
 * On the wasm backend the write is the kernel `TurngymWriteSlice`, registered with TensorFlow.js (so tidy,
 * dispose and the profiler see it as any other), which copies the slice into the target's own memory and returns
 * a tensor that shares that memory, as Reshape does. It uses two members of tfjs-backend-wasm 4.22's `BackendWasm`
 * that its typings do not promise (`typedArrayFromHeap`, `incRef`); the tests fail if an upgrade moves them. On
 * other backends it is the same value made by concatenation, a new tensor, and the target is left as it was.
 */
import * as tf from '@tensorflow/tfjs-core';

const KERNEL_NAME = 'TurngymWriteSlice';

/** What the kernel uses of tfjs-backend-wasm's backend. */
interface WasmBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  incRef(dataId: object): void;
}

/** Below this many floats a row is copied by a loop: `set` on a subarray costs more than the copy. */
const LOOP_BELOW = 16;

tf.registerKernel({
  kernelName: KERNEL_NAME,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const { target, update } = inputs as { target: tf.TensorInfo; update: tf.TensorInfo };
    const { axis, offset } = attrs as unknown as { axis: number; offset: number };
    const wasm = backend as unknown as WasmBackend;
    const { outer, inner } = around(target.shape, axis);
    const capacity = target.shape[axis]!;
    const run = update.shape[axis]! * inner;
    if (run > 0 && outer > 0) {
      // Views made after any allocation (a growing heap detaches older views); none happens in this kernel.
      const to = wasm.typedArrayFromHeap(target);
      const from = wasm.typedArrayFromHeap(update);
      for (let o = 0; o < outer; o++) {
        const at = (o * capacity + offset) * inner;
        const source = o * run;
        if (run < LOOP_BELOW) for (let i = 0; i < run; i++) to[at + i] = from[source + i]!;
        else to.set(from.subarray(source, source + run), at);
      }
    }
    wasm.incRef(target.dataId);
    return { dataId: target.dataId, shape: target.shape, dtype: target.dtype };
  },
});

/** The number of elements before `axis` (outer) and after it (inner) in a shape. */
function around(shape: readonly number[], axis: number): { outer: number; inner: number } {
  let outer = 1;
  let inner = 1;
  shape.forEach((size, index) => {
    if (index < axis) outer *= size;
    else if (index > axis) inner *= size;
  });
  return { outer, inner };
}

/**
 * `target` with positions offset..offset + n - 1 along `axis` replaced by `update` (n its size along `axis`;
 * every other dimension equal). On the wasm backend the result shares `target`'s memory and `target` itself
 * now holds the same values: use it only on a tensor nothing else reads (a cache that the caller owns), and
 * read the result, not `target`, afterwards. Not differentiable.
 */
export function writeSlice<T extends tf.Tensor>(target: T, update: tf.Tensor, axis: number, offset: number): T {
  const size = update.shape[axis];
  if (
    target.dtype !== 'float32' ||
    update.dtype !== 'float32' ||
    target.rank !== update.rank ||
    size === undefined ||
    !Number.isInteger(offset) ||
    offset < 0 ||
    offset + size > target.shape[axis]! ||
    target.shape.some((extent, index) => index !== axis && extent !== update.shape[index])
  ) {
    throw new Error(
      `writeSlice: float32 [${update.shape}] does not fit [${target.shape}] at ${offset} along axis ${axis}`,
    );
  }
  if (tf.getBackend() === 'wasm') return tf.engine().runKernel(KERNEL_NAME, { target, update }, { axis, offset }) as T;
  return tf.tidy(() => {
    const begin = target.shape.map(() => 0);
    const before = tf.slice(
      target,
      begin,
      target.shape.map((extent, index) => (index === axis ? offset : extent)),
    );
    const afterBegin = begin.map((_, index) => (index === axis ? offset + size : 0));
    const after = tf.slice(
      target,
      afterBegin,
      target.shape.map((extent, index) => (index === axis ? extent - offset - size : extent)),
    );
    return tf.concat([before, update, after], axis) as T;
  });
}
