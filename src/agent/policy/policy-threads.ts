/**
 * The policy on every core. The wasm backend runs one thread, so the policy's heavy work is split between this
 * thread and worker threads (policy-worker.ts), each with its own wasm backend and a copy of the weights sent
 * with each piece of work, so that a worker always computes with the policy as it is now:
 *
 * - sampling (`Policy.sample`): a batch's rows are split; this thread decodes the first share and each worker one
 *   more. The tokens are still drawn here, row by row, from one random source: the same seed draws the same tokens
 *   as on one thread (up to the last bits of the logits, where a batch of other rows may use another kernel);
 * - passes over whole sequences (`Policy.partLogprobs`, `Policy.partGradients`: scoring, the update's log-probs
 *   and its gradients): the parts of a batch are shared out, and a worker's gradients are summed with this
 *   thread's.
 *
 * This thread waits for a worker's reply with `Atomics.wait` and reads it with `receiveMessageOnPort`, so the
 * policy's methods stay synchronous. A worker that cannot start (no wasm backend, no TypeScript loader) is given
 * up once, with one line on standard error, and its work is done here.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { TurngymError } from '../../core/errors.js';
import type { DecodingPart } from './decoder.js';
import type { ScoredSequence } from './logprobs.js';
import type { TransformerModel } from './model.js';

/**
 * Fewest rows a thread is given when sampling: below it, sending the weights and waiting each token cost more than
 * decoding the rows here (bench train, guess-number's model: 16 rows split 8 + 8 sampled at 0.69x the tokens/s of
 * one thread; 64 rows at 1.45x, 256 at 1.85x).
 */
export const MIN_ROWS_PER_THREAD = 16;

/** Longest wait for a worker's reply before its work is taken as failed (a reply is one pass, or one part's passes). */
const REPLY_TIMEOUT_MS = 10 * 60_000;
/** Longest wait for a share of a pass over whole sequences, whose work is done here instead past it. */
export const PASS_TIMEOUT_MS = 2 * 60_000;

/** Settings of a pass over whole sequences. */
export interface PassSettings {
  pad: number;
  temperature?: number;
}

/** What this thread sends a worker. */
export type WorkerRequest =
  | {
      type: 'weights';
      config: TransformerModel['config'];
      names: string[];
      arrays: Float32Array[];
      copyVariants: TransformerModel['copyVariants'];
    }
  | { type: 'start'; contexts: number[][]; pad: number; incremental: boolean }
  | { type: 'step'; next: number[] }
  | { type: 'end' }
  | { type: 'logprobs'; parts: ScoredSequence[][]; settings: PassSettings }
  | {
      type: 'gradients';
      parts: ScoredSequence[][];
      /** The objective's module (see TokenObjective), each part's per-token constants, and its settings. */
      objective: { module: string; inputs: Record<string, Float32Array>[]; settings?: unknown };
      settings: PassSettings;
    }
  | { type: 'coupled'; part: ScoredSequence[]; settings: PassSettings };

/**
 * What this thread sends a coupled pass between its two answers (not a request: the worker reads it while its
 * pass waits): the loss's derivative with respect to each of the part's log-probs (and entropies), or
 * `calledOff` when this thread's own pass failed.
 */
export interface CoupledDerivative {
  logprobs: Float32Array;
  entropies?: Float32Array;
  calledOff?: boolean;
}

/**
 * What a worker answers each request with (after writing the request's number to the shared flag): a step's
 * `logits`; for 'logprobs' each part's log-probs and entropies in `arrays` (two a part); for 'gradients' the
 * summed gradient of each variable in `names` (those with one) in `arrays`, and each part's log-probs and
 * entropies in `values` (two a part).
 */
export type WorkerReply = {
  logits?: Float32Array;
  arrays?: Float32Array[];
  names?: string[];
  values?: Float32Array[];
  error?: string;
  name?: string;
};

/**
 * The worker's first code: loads policy-worker (through tsx when this is the TypeScript source, as under vitest,
 * whose loader a worker does not inherit), and answers with an error, instead of leaving this thread waiting, when
 * the worker cannot start or dies.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const fail = (error) => {
  workerData.port.postMessage({ error: String((error && error.message) || error) });
  Atomics.store(workerData.flag, 1, 1);
  Atomics.add(workerData.flag, 0, 1);
  Atomics.notify(workerData.flag, 0);
};
process.on('uncaughtException', fail);
// A worker that exits (a fatal error in its backend) answers too: the policy's thread is never left waiting.
process.on('exit', () => fail(new Error('the thread exited')));
(async () => {
  if (workerData.typescript) (await import('tsx/esm/api')).register();
  await import(workerData.entry);
})().catch(fail);
`;

/** One worker thread and the channel this thread reads its replies on without returning to the event loop. */
export class PolicyThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** [0]: replies sent so far; [1]: 1 once the worker has failed for good; [2]: derivatives sent to coupled passes. */
  private readonly flag = new Int32Array(new SharedArrayBuffer(12));
  private sent = 0;
  /** Set when the worker failed (its backend may be unusable): its owner stops using it. */
  broken = false;

  constructor() {
    const channel = new MessageChannel();
    this.port = channel.port1;
    const entry = new URL(`./policy-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    this.worker = new Worker(BOOTSTRAP, {
      eval: true,
      // A worker takes the process's loaders but not its process-wide flags (--no-node-snapshot).
      execArgv: process.execArgv.filter((flag) => flag !== '--no-node-snapshot'),
      workerData: {
        port: channel.port2,
        flag: this.flag,
        entry: entry.href,
        typescript: entry.pathname.endsWith('.ts'),
      },
      transferList: [channel.port2],
    });
    this.worker.unref();
    this.port.unref();
  }

  /** Sends a request and returns its reply (blocking this thread until it comes). */
  request(message: WorkerRequest, transfer: ArrayBuffer[] = []): WorkerReply {
    this.post(message, transfer);
    return this.await();
  }

  post(message: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    this.sent++;
    this.port.postMessage(message, transfer);
  }

  /** The reply to the oldest request not yet awaited (blocking this thread until it comes). */
  await(timeoutMs = REPLY_TIMEOUT_MS): WorkerReply {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // The count is read once, and waited on as read: a reply that lands after the check changes it, so the wait
      // returns at once. (Reading it again for the wait lost such a reply until the deadline, about once in
      // 60,000 replies.)
      const seen = Atomics.load(this.flag, 0);
      if (seen >= this.sent || Atomics.load(this.flag, 1) !== 0) break;
      if (Atomics.wait(this.flag, 0, seen, Math.max(1, deadline - Date.now())) === 'timed-out') {
        this.broken = true;
        throw new TurngymError(
          'ENV_FAILURE',
          `a policy thread did not answer within ${Math.round(timeoutMs / 1000)} s`,
        );
      }
    }
    const reply = receiveMessageOnPort(this.port)?.message as WorkerReply | undefined;
    if (!reply) {
      this.broken = true;
      throw new TurngymError('ENV_FAILURE', 'a policy thread answered without a message');
    }
    if (reply.error !== undefined) {
      this.broken = true;
      // The wasm heap's faults keep their name, so that the policy reports running out of memory in either thread.
      if (reply.name !== 'RuntimeError')
        throw new TurngymError('ENV_FAILURE', `a policy thread failed: ${reply.error}`);
      throw Object.assign(new Error(reply.error), { name: reply.name });
    }
    return reply;
  }

  /** Sends the model's current weights (the worker's reply is awaited with the work that follows). */
  private postWeights(model: TransformerModel): void {
    const names = [...model.variables.keys()];
    const arrays = names.map((name) => (model.variables.get(name)!.dataSync() as Float32Array).slice());
    this.post(
      { type: 'weights', config: model.config, names, arrays, copyVariants: model.copyVariants },
      arrays.map((array) => array.buffer as ArrayBuffer),
    );
  }

  /** A part of the batch decoded in this worker with the model's current weights. */
  decode(model: TransformerModel, contexts: readonly (readonly number[])[], pad: number, incremental: boolean) {
    this.postWeights(model);
    this.await();
    const rows = contexts.map((context) => [...context]);
    const thread = this;
    return {
      rows: rows.length,
      send(next?: readonly number[]): void {
        thread.post(next ? { type: 'step', next: [...next] } : { type: 'start', contexts: rows, pad, incremental });
      },
      receive(): Float32Array {
        return thread.await().logits!;
      },
      dispose(): void {
        thread.request({ type: 'end' });
      },
    } satisfies DecodingPart;
  }

  /**
   * Starts a pass over `parts` with the model's current weights: 'logprobs' (each part's log-probs and entropies)
   * or 'gradients' (the gradient of an objective, summed over the parts). `receive` blocks until the worker is done.
   */
  startPass(
    model: TransformerModel,
    request: Extract<WorkerRequest, { type: 'logprobs' | 'gradients' }>,
  ): { receive(): WorkerReply } {
    this.postWeights(model);
    this.post(request);
    return {
      receive: () => {
        this.await(PASS_TIMEOUT_MS);
        return this.await(PASS_TIMEOUT_MS);
      },
    };
  }

  /**
   * Starts a coupled pass over `part` with the model's current weights: the worker answers the part's log-probs
   * and entropies (`values`), keeps its forward pass's tape, and waits for the loss's derivative with respect to
   * each (`send`) before its backward pass, whose gradients are its second answer (`gradients`). Called off
   * (`callOff`) it answers nothing more than an empty reply, which `finish` reads. Every pass started is ended
   * by `gradients` or `finish`, so that the replies stay in step with the requests.
   */
  startCoupled(model: TransformerModel, part: ScoredSequence[], settings: PassSettings) {
    this.postWeights(model);
    this.post({ type: 'coupled', part, settings });
    // What has come back: nothing, the weights' reply, the values, or (after `send`) what is awaited is the last.
    let stage: 'started' | 'weights' | 'values' | 'sent' | 'done' = 'started';
    const next = (): WorkerReply => {
      const reply = this.await(PASS_TIMEOUT_MS);
      stage = stage === 'started' ? 'weights' : stage === 'weights' ? 'values' : 'done';
      return reply;
    };
    const send = (derivative: CoupledDerivative) => {
      this.sent++;
      this.port.postMessage(derivative);
      Atomics.add(this.flag, 2, 1);
      Atomics.notify(this.flag, 2);
      stage = 'sent';
    };
    return {
      values: (): [Float32Array, Float32Array] => {
        next();
        const reply = next();
        return [reply.values![0]!, reply.values![1]!];
      },
      send: (derivative: Omit<CoupledDerivative, 'calledOff'>) => send(derivative),
      gradients: (): WorkerReply => next(),
      /** Ends the pass wherever it stands (after a failure elsewhere); a worker that fails here is given up. */
      finish: (): void => {
        try {
          while (!this.broken && stage !== 'done') {
            if (stage === 'values') send({ logprobs: new Float32Array(0), calledOff: true });
            else next();
          }
        } catch {
          // await() has marked the worker broken: its owner stops using it.
        }
      },
    };
  }

  terminate(): void {
    void this.worker.terminate();
  }
}

/** The worker threads of one policy, started on first use. */
export class PolicyThreads {
  private threads: PolicyThread[] | undefined;
  private failed = false;

  /**
   * @param count threads that work for the policy, this one included (default: the machine's cores, at most 4; 1
   *   keeps all the work on this thread). Only the wasm backend is split: the others run their own threads.
   */
  constructor(readonly count = Math.min(4, availableParallelism())) {}

  /** Threads that share the work: this one and the workers (1 on a backend other than wasm, or after a failure). */
  get size(): number {
    return this.failed || tf.getBackend() !== 'wasm' ? 1 : Math.max(1, this.count);
  }

  /** The worker threads to give a share of a sampling batch of `rows` rows to (none when the batch is small). */
  forSampling(rows: number): PolicyThread[] {
    const workers = Math.min(this.count - 1, Math.floor(rows / MIN_ROWS_PER_THREAD) - 1);
    return workers < 1 ? [] : this.workers().slice(0, workers);
  }

  /** Every worker thread, started if need be (none on one thread, on a backend other than wasm, or after a failure). */
  workers(): PolicyThread[] {
    if (this.threads?.some((thread) => thread.broken)) {
      this.failed = true;
      this.close();
    }
    if (this.failed || this.count < 2 || tf.getBackend() !== 'wasm') return [];
    try {
      if (!this.threads) {
        this.threads = Array.from({ length: this.count - 1 }, () => new PolicyThread());
        // The first reply comes once a worker has loaded its backend: a worker that cannot start fails here.
        for (const thread of this.threads) thread.request({ type: 'end' });
      }
    } catch (error) {
      this.failed = true;
      console.error(`[policy] working on this thread only: a policy thread did not start (${String(error)})`);
      this.close();
      return [];
    }
    return this.threads;
  }

  close(): void {
    for (const thread of this.threads ?? []) thread.terminate();
    this.threads = undefined;
  }
}

/**
 * Shares `sizes` (work of each part) between `slots` threads, largest first to the least loaded (this thread is
 * slot 0): each slot's part indices, in increasing order.
 */
export function shareParts(sizes: readonly number[], slots: number): number[][] {
  const loads = Array<number>(slots).fill(0);
  const shares: number[][] = Array.from({ length: slots }, () => []);
  const order = sizes.map((_, index) => index).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  for (const index of order) {
    let slot = 0;
    for (let s = 1; s < slots; s++) if (loads[s]! < loads[slot]!) slot = s;
    loads[slot]! += sizes[index]!;
    shares[slot]!.push(index);
  }
  for (const share of shares) share.sort((a, b) => a - b);
  return shares;
}
