/**
 * A policy thread (policy-threads.ts): holds a copy of the policy's transformer on its own wasm backend and does
 * the work it is given, one request at a time (decoding rows, or passes over whole sequences), answering each on
 * the port and then bumping the shared flag the policy's thread waits on.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { Decoder } from './decoder.js';
import { objectiveGradients, type TokenObjectiveFunction, targetLogprobs } from './logprobs.js';
import { TransformerModel } from './model.js';
import type { WorkerReply, WorkerRequest } from './policy-threads.js';

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
  }
}

port.on('message', (request: WorkerRequest) => {
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
    const transfer = [...(reply.logits ? [reply.logits] : []), ...(reply.arrays ?? []), ...(reply.values ?? [])];
    port.postMessage(
      reply,
      transfer.map((array) => array.buffer as ArrayBuffer),
    );
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
