/**
 * Backend selection. TensorFlow.js runs on whichever backend loads, fastest first:
 *
 *   node-gpu  @tensorflow/tfjs-node-gpu (libtensorflow with CUDA)
 *   node      @tensorflow/tfjs-node     (libtensorflow on the CPU)
 *   wasm      @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD)
 *   cpu       tfjs's plain JavaScript kernels
 *
 * The first two are optional packages (their install downloads libtensorflow); where they are missing the
 * import fails and the next one is tried. The choice and the reason are logged once, in one line that says
 * which optional packages are not installed (`using wasm; tfjs-node-gpu and tfjs-node not installed`) and
 * quotes the error only of one that is installed and failed to load.
 *
 * The other policy modules import TensorFlow.js's types and ops from `@tensorflow/tfjs-core`, so that the
 * published declarations do not pull in tfjs-layers, whose own declarations fail a user's strict type check
 * (without skipLibCheck); this module imports `@tensorflow/tfjs`, which registers the cpu backend.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TurngymError, describeError } from '../../core/errors.js';

export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The backend in use and why it was chosen. */
export interface BackendChoice {
  name: BackendName;
  /** tfjs's own name of the backend (`tensorflow`, `wasm`, `cpu`). */
  tfjsName: string;
  /** Why: the backends skipped and their errors, or that it was asked for. */
  reason: string;
}

let current: BackendChoice | undefined;

/** The backend chosen so far in this process, if any. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}

/**
 * Initialises TensorFlow.js on `requested` (default `auto`: the fastest that loads). Calling it again with
 * `auto` or the same name returns the earlier choice; a different name switches. `log` receives one line
 * naming the backend and the reason (default: standard error).
 */
export async function initBackend(
  requested: BackendName | 'auto' = 'auto',
  log: (line: string) => void = (line) => console.error(line),
): Promise<BackendChoice> {
  if (requested !== 'auto' && !(BACKENDS as readonly string[]).includes(requested)) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `Unknown backend '${requested}'. Use one of: auto, ${BACKENDS.join(', ')}.`,
    );
  }
  if (current && (requested === 'auto' || requested === current.name)) return current;
  const candidates = requested === 'auto' ? BACKENDS : [requested];
  const skipped: string[] = [];
  const notInstalled: string[] = [];
  for (const name of candidates) {
    try {
      const tfjsName = await load(name);
      const reasons = [
        ...(notInstalled.length > 0 ? [`${notInstalled.join(' and ')} not installed`] : []),
        ...(skipped.length > 0 ? [`skipped ${skipped.join('; ')}`] : []),
      ];
      const reason =
        requested === 'auto' ? (reasons.length > 0 ? reasons.join('; ') : 'the fastest there is') : 'requested';
      current = { name, tfjsName, reason };
      log(
        `[policy] TensorFlow.js backend: using ${name}${name === 'wasm' ? ` (SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'})` : ''}; ${reason}`,
      );
      return current;
    } catch (error) {
      // Asked for by name, a missing package is the error; under auto it is only what auto looked for.
      if (error instanceof NotInstalledError && requested === 'auto')
        notInstalled.push(error.packageName.replace('@tensorflow/', ''));
      else
        skipped.push(
          `${name}: ${firstLine(describeError(error))}${error instanceof NotInstalledError ? ` (npm install ${error.packageName})` : ''}`,
        );
    }
  }
  throw new TurngymError('NOT_SUPPORTED', `Backend '${requested}' could not be loaded: ${skipped.join('; ')}.`);
}

async function load(name: BackendName): Promise<string> {
  if (name === 'node-gpu' || name === 'node') {
    // Optional packages: imported by a computed name so that the project builds without them.
    const packageName = name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    try {
      await import(packageName);
    } catch (error) {
      const missing =
        (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
        describeError(error).includes(`'${packageName}'`);
      throw missing ? new NotInstalledError(packageName) : error;
    }
    if (!(await tf.setBackend('tensorflow')))
      throw new TurngymError('NOT_SUPPORTED', `${packageName} loaded but its backend did not initialise`);
    await tf.ready();
    return 'tensorflow';
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // In Node the .wasm binaries are read from the package's dist/ folder.
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
    if (!(await tf.setBackend('wasm'))) throw new TurngymError('NOT_SUPPORTED', 'the wasm backend did not initialise');
    await tf.ready();
    shareDataOnClone();
    return 'wasm';
  }
  if (!(await tf.setBackend('cpu'))) throw new TurngymError('NOT_SUPPORTED', 'the cpu backend did not initialise');
  await tf.ready();
  // The cpu backend prints a banner urging tfjs-node at its first tensor; initBackend's line already says
  // which backend runs and which packages are missing.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return 'cpu';
}

/**
 * The wasm backend's Identity kernel (behind `clone`, and so behind every tensor a custom gradient saves for
 * its backward pass) copies the data; tensors are immutable, so this one shares it by reference count, as
 * the backend's own Reshape does and as the cpu backend's Identity does. A training pass of the policy saves
 * every activation it multiplies, so this halves what the pass holds and copies.
 */
function shareDataOnClone(): void {
  type Shared = { dataId: object; shape: number[]; dtype: tf.DataType };
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (({ inputs, backend }: { inputs: { x: Shared }; backend: { incRef(dataId: object): void } }) => {
      const { x } = inputs;
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }) as unknown as tf.KernelFunc,
  });
}

/** An optional backend package that is not installed (as opposed to one that is and fails to load). */
class NotInstalledError extends Error {
  constructor(readonly packageName: string) {
    super(`${packageName} is not installed`);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 160);
}
