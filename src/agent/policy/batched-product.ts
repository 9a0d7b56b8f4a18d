/**
 * Batched matrix products [C, M, K] x [C, K, N] by a WebAssembly SIMD kernel of this package, for the
 * attention products on the wasm backend (ops.ts). The backend's own BatchMatMul runs a plain loop, and the
 * depthwise-convolution route ops.ts took before (one grouped XNNPACK call, with transposes around it) reached
 * 1 to 4.5 GFLOP/s on attention's shapes; this kernel sums tiles of 4 x 8 in SIMD registers, 6 to 12 GFLOP/s
 * on the same shapes on this machine, with other work running (docs/training.md, "Speed").
 *
 * The kernel (kernels/batched-product.ts, AssemblyScript, compiled by scripts/build-kernels.ts into
 * batched-product-wasm.ts) is registered with TensorFlow.js as the wasm backend's kernel `TurngymBatchedProduct`,
 * so tidy, dispose and the profiler see it as any other. It is instantiated once per backend (each policy worker
 * thread has its own) on the backend's own WebAssembly memory, and reads its operands and writes its result
 * where the backend keeps them: nothing is copied. That uses three members of tfjs-backend-wasm 4.22's
 * `BackendWasm` that its typings do not promise (`wasm.asm.memory`, `dataIdMap`, `makeOutput`); the tests fail
 * if an upgrade moves them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BATCHED_PRODUCT_WASM } from './batched-product-wasm.js';

/** What this module uses of the global WebAssembly API (the project's `lib` has no DOM types, which declare it). */
declare namespace WebAssembly {
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}

const KERNEL_NAME = 'TurngymBatchedProduct';

/** What the kernel uses of tfjs-backend-wasm's backend. */
interface WasmBackend {
  wasm: { asm: { memory: WebAssembly.Memory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type Run = (a: number, b: number, c: number, channels: number, m: number, k: number, n: number) => void;

const module = new WebAssembly.Module(Buffer.from(BATCHED_PRODUCT_WASM, 'base64'));
/** The kernel's instance on each backend's memory. */
const instances = new WeakMap<WebAssembly.Memory, Run>();

function runOn(memory: WebAssembly.Memory): Run {
  let run = instances.get(memory);
  if (!run) {
    const { exports } = new WebAssembly.Instance(module, {
      env: {
        memory,
        abort: () => {
          throw new Error('batched product kernel aborted');
        },
      },
    });
    run = exports.batchedProduct as Run;
    instances.set(memory, run);
  }
  return run;
}

tf.registerKernel({
  kernelName: KERNEL_NAME,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const wasm = backend as unknown as WasmBackend;
    const [channels, m, k] = a.shape as [number, number, number];
    const n = b.shape[2]!;
    const out = wasm.makeOutput([channels, m, n], 'float32');
    if (channels * m * n > 0) {
      const offset = (info: tf.TensorInfo) => wasm.dataIdMap.get(info.dataId).memoryOffset;
      runOn(wasm.wasm.asm.memory)(offset(a), offset(b), offset(out), channels, m, k, n);
    }
    return out;
  },
});

/**
 * `a x b` for each of the C matrices of two float32 batches on the wasm backend: the values of `tf.matMul`,
 * summed in another order. Not differentiable by itself (ops.ts's `matMul` gives the gradient).
 */
export function batchedProduct(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1] || a.dtype !== 'float32' || b.dtype !== 'float32')
    throw new Error(`batchedProduct: float32 shapes [${a.shape}] and [${b.shape}] do not multiply`);
  return tf.engine().runKernel(KERNEL_NAME, { a, b }, {}) as tf.Tensor3D;
}
