/**
 * A policy thread (policy-threads.ts): holds a copy of the policy's transformer on its own wasm backend and does
 * the work it is given, one request at a time (decoding rows, or passes over whole sequences), answering each on
 * the port and then bumping the shared flag the policy's thread waits on.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { Decoder } from './decoder.js';
import {
  modelGradients,
  objectiveGradients,
  type TokenObjectiveFunction,
  targetLogprobs,
  tokenObjective,
} from './logprobs.js';
import { TransformerModel } from './model.js';
import { type CoupledDerivative, PASS_TIMEOUT_MS, type WorkerReply, type WorkerRequest } from './policy-threads.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
const ready = initBackend('wasm', () => {});
let model: TransformerModel | undefined;
let decoder: Decoder | undefined;
let queue = Promise.resolve();
/** The objectives of 'gradients' requests, by module URL (imported once). */
const objectives = new Map<string, TokenObjectiveFunction>();

function handle(request: WorkerRequest): WorkerReply {
  switch (request.type) {
    case 'weights': {
      const same = model && JSON.stringify(model.config) === JSON.stringify(request.config);
      if (!same) {
        model?.dispose();
        model = new TransformerModel(request.config);
      }
      model!.copyVariants = request.copyVariants;
      request.names.forEach((name, index) => {
        const variable = model!.variables.get(name)!;
        tf.tidy(() => variable.assign(tf.tensor(request.arrays[index]!, variable.shape)));
      });
      return {};
    }
    case 'start':
      decoder?.dispose();
      decoder = new Decoder(model!, request.contexts, request.pad, request.incremental);
      decoder.send();
      return { logits: decoder.receive() };
    case 'step':
      decoder!.send(request.next);
      return { logits: decoder!.receive() };
    case 'end':
      decoder?.dispose();
      decoder = undefined;
      return {};
    case 'logprobs':
      return {
        arrays: request.parts.flatMap((part) =>
          tf.tidy(() => {
            const { logprobs, entropies } = targetLogprobs(model!, part, request.settings);
            return [logprobs.dataSync() as Float32Array, entropies.dataSync() as Float32Array];
          }),
        ),
      };
    case 'gradients': {
      const sums = new Map<string, Float32Array>();
      const values: Float32Array[] = [];
      const evaluate = objectives.get(request.objective.module)!;
      request.parts.forEach((part, index) => {
        const { gradients, logprobs, entropies } = objectiveGradients(
          model!,
          part,
          evaluate,
          request.objective.inputs[index]!,
          request.objective.settings,
          request.settings,
        );
        values.push(logprobs, entropies);
        for (const [name, gradient] of Object.entries(gradients)) {
          const values = gradient.dataSync() as Float32Array;
          const sum = sums.get(name);
          if (sum) for (let i = 0; i < sum.length; i++) sum[i]! += values[i]!;
          else sums.set(name, values.slice());
        }
        tf.dispose(Object.values(gradients));
      });
      return { names: [...sums.keys()], arrays: [...sums.values()], values };
    }
    case 'coupled':
      return coupledGradients(request.part, request.settings);
  }
}

/**
 * A coupled pass (PolicyThread.startCoupled): the forward pass of `part`, whose log-probs and entropies are
 * answered at once, then, with the tape kept, a wait for the loss's derivative with respect to each of them,
 * and the backward pass of their weighted sum: its gradients are the second answer. Called off (the policy's
 * thread failed), the pass ends with a loss of zero, so that tfjs frees the forward pass's saved tensors (it does
 * not when the function throws), and answers nothing.
 */
function coupledGradients(
  part: Extract<WorkerRequest, { type: 'coupled' }>['part'],
  settings: Extract<WorkerRequest, { type: 'coupled' }>['settings'],
): WorkerReply {
  let calledOff = false;
  const { value, gradients } = modelGradients(model!, () => {
    const { logprobs, entropies } = targetLogprobs(model!, part, settings);
    answer({
      values: [(logprobs.dataSync() as Float32Array).slice(), (entropies.dataSync() as Float32Array).slice()],
    });
    const derivative = receiveDerivative();
    if (derivative.calledOff) {
      calledOff = true;
      return tf.mul(tf.sum(logprobs), 0) as tf.Scalar;
    }
    const inputs: Record<string, tf.Tensor1D> = { logprobs: tf.tensor1d(derivative.logprobs) };
    if (derivative.entropies) inputs.entropies = tf.tensor1d(derivative.entropies);
    return tokenObjective(logprobs, entropies, inputs, undefined);
  });
  value.dispose();
  const names = Object.keys(gradients);
  const arrays = calledOff ? [] : names.map((name) => (gradients[name]!.dataSync() as Float32Array).slice());
  tf.dispose(Object.values(gradients));
  return calledOff ? {} : { names, arrays };
}

/** The derivative the policy's thread sends a coupled pass (read here without returning to the event loop). */
function receiveDerivative(): CoupledDerivative {
  const deadline = Date.now() + PASS_TIMEOUT_MS;
  for (;;) {
    const seen = Atomics.load(flag, 2);
    const message = receiveMessageOnPort(port)?.message as CoupledDerivative | undefined;
    if (message) return message;
    // Past the deadline the pass is called off (the policy's thread, which waited as long, has given this one up).
    if (Atomics.wait(flag, 2, seen, Math.max(1, deadline - Date.now())) === 'timed-out')
      return { logprobs: new Float32Array(0), calledOff: true };
  }
}

/** Answers the oldest request not yet answered (the policy's thread waits on the flag). */
function answer(reply: WorkerReply): void {
  const transfer = [...(reply.logits ? [reply.logits] : []), ...(reply.arrays ?? []), ...(reply.values ?? [])];
  port.postMessage(
    reply,
    transfer.map((array) => array.buffer as ArrayBuffer),
  );
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
}

port.on('message', (request: WorkerRequest) => {
  // A derivative that came after its pass gave up waiting is not a request: it is dropped.
  if (typeof (request as { type?: unknown }).type !== 'string') return;
  queue = queue.then(async () => {
    let reply: WorkerReply;
    try {
      await ready;
      if (request.type === 'gradients' && !objectives.has(request.objective.module)) {
        const module = (await import(request.objective.module)) as { tokenObjective?: TokenObjectiveFunction };
        if (typeof module.tokenObjective !== 'function')
          throw new Error(`${request.objective.module} does not export a function tokenObjective`);
        objectives.set(request.objective.module, module.tokenObjective);
      }
      reply = handle(request);
    } catch (error) {
      reply = error instanceof Error ? { error: error.message, name: error.name } : { error: String(error) };
    }
    answer(reply);
  });
});
