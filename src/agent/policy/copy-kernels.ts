/**
 * Kernels that only copy memory, for the wasm backend, whose own kernels for these copies run an index
 * computation per element:
 *
 * - `writeSlice`: a slice written into a tensor in place, for the key-value cache of decoding (model.ts,
 *   decoder.ts): a decoding step's keys and values go into a cache with room for more positions instead of a new
 *   cache made by concatenation every token. The concatenation of a cache along its last axes was half of a
 *   decoding step's kernel time at 128 rows (a copy of the whole cache, row by row); a write touches only the new
 *   positions. On other backends it is the same value made by concatenation, a new tensor.
 * - `takeRows`: rows of a 2-D table (embeddings, the rows the heads read), a block copy a row; the backend's
 *   GatherV2 was 16% of the kernel time of sampling's first pass over the contexts, at about 0.1 GB/s.
 *
 * Each is registered with TensorFlow.js as a wasm kernel (`TurngymWriteSlice`, `TurngymTakeRows`), so tidy,
 * dispose and the profiler see it as any other, and works in the backend's own memory. They use three members
 * of tfjs-backend-wasm 4.22's `BackendWasm` that its typings do not promise (`typedArrayFromHeap`, `incRef`,
 * `makeOutput`); the tests fail if an upgrade moves them.
 */
import * as tf from '@tensorflow/tfjs-core';

const WRITE_SLICE = 'TurngymWriteSlice';
const TAKE_ROWS = 'TurngymTakeRows';

/** What the kernel uses of tfjs-backend-wasm's backend. */
interface WasmBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** Below this many floats a row is copied by a loop: `set` on a subarray costs more than the copy. */
const LOOP_BELOW = 16;

tf.registerKernel({
  kernelName: WRITE_SLICE,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const { target, update } = inputs as { target: tf.TensorInfo; update: tf.TensorInfo };
    const { axis, offset } = attrs as unknown as { axis: number; offset: number };
    const wasm = backend as unknown as WasmBackend;
    const { outer, inner } = around(target.shape, axis);
    const capacity = target.shape[axis]!;
    const run = update.shape[axis]! * inner;
    if (run > 0 && outer > 0) {
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

tf.registerKernel({
  kernelName: TAKE_ROWS,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { table, indices } = inputs as { table: tf.TensorInfo; indices: tf.TensorInfo };
    const wasm = backend as unknown as WasmBackend;
    const [rows, width] = table.shape as [number, number];
    const count = indices.shape[0]!;
    const checked = wasm.typedArrayFromHeap(indices);
    for (let i = 0; i < count; i++) {
      const row = checked[i]!;
      if (!(row >= 0 && row < rows)) throw new Error(`takeRows: index ${row} is not a row of a table of ${rows}`);
    }
    const out = wasm.makeOutput([count, width], table.dtype);
    // Views made after the output's allocation, which may grow (and so detach) the heap.
    const from = wasm.typedArrayFromHeap(table);
    const at = wasm.typedArrayFromHeap(indices);
    const to = wasm.typedArrayFromHeap(out);
    for (let i = 0; i < count; i++) to.set(from.subarray(at[i]! * width, at[i]! * width + width), i * width);
    return out;
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
  if (tf.getBackend() === 'wasm') return tf.engine().runKernel(WRITE_SLICE, { target, update }, { axis, offset }) as T;
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

/**
 * The first `length` positions of `tensor` along `axis`, followed by zeros up to `capacity` positions: a new
 * tensor with room for `writeSlice` to fill.
 */
export function withRoomAlong<T extends tf.Tensor>(tensor: T, axis: number, length: number, capacity: number): T {
  return tf.tidy(() => {
    const kept = tensor.shape.map((extent, index) => (index === axis ? length : extent));
    const room = tensor.shape.map((extent, index) => (index === axis ? capacity - length : extent));
    return tf.concat(
      [
        tf.slice(
          tensor,
          kept.map(() => 0),
          kept,
        ),
        tf.zeros(room),
      ],
      axis,
    ) as T;
  });
}

/**
 * Rows `indices` [N] (int32) of a 2-D float32 `table`: `tf.gather(table, indices)`, by a block copy a row on the
 * wasm backend. An index outside the table is an error. Not differentiable (ops.ts's `gatherRows` is).
 */
export function takeRows(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  if (table.dtype !== 'float32' || indices.dtype !== 'int32' || table.rank !== 2 || indices.rank !== 1)
    throw new Error(`takeRows: a float32 table [${table.shape}] and int32 indices [${indices.shape}] are needed`);
  if (tf.getBackend() === 'wasm') return tf.engine().runKernel(TAKE_ROWS, { table, indices }, {}) as tf.Tensor2D;
  return tf.gather(table, indices);
}
