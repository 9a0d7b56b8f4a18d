/**
 * The forward passes of sampling, without the drawing of tokens: a `Decoder` runs the first pass over a batch of
 * contexts (left-padded, so every row's last token sits in the same column) and then one incremental pass per
 * new token, returning each time the next token's logits of every row. `Policy.sample` draws the tokens; it
 * may split its rows between a decoder of its own and decoders in worker threads (policy-threads.ts), which
 * run the same code on their own copy of the weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type CopySource, type LayerCache, TransformerModel, attentionMask } from './model.js';
import { gatherRows } from './ops.js';

/** One part of a batch being decoded: `send` starts a pass (the first, or one more token per row), `receive` ends it. */
export interface DecodingPart {
  readonly rows: number;
  /** Starts the first pass (`next` undefined) or a pass over one more token per row. */
  send(next?: readonly number[]): void;
  /** The logits [rows x vocab] of the pass `send` started. */
  receive(): Float32Array;
  dispose(): void;
}

export class Decoder implements DecodingPart {
  readonly rows: number;
  private readonly tokens: number[][];
  private readonly valid: boolean[][];
  private readonly padding: number[];
  private cache: LayerCache[] | undefined;
  /** The copy head's keys of every position so far (a model with a copy head). */
  private copyKeys: tf.Tensor3D | undefined;
  private logits: Float32Array | undefined;

  constructor(
    private readonly model: TransformerModel,
    contexts: readonly (readonly number[])[],
    pad: number,
    private readonly incremental: boolean,
  ) {
    this.rows = contexts.length;
    const longest = Math.max(...contexts.map((context) => context.length));
    this.padding = contexts.map((context) => longest - context.length);
    this.tokens = contexts.map((context, row) => [...Array<number>(this.padding[row]!).fill(pad), ...context]);
    this.valid = contexts.map((_, row) => Array.from({ length: longest }, (_, index) => index >= this.padding[row]!));
  }

  send(next?: readonly number[]): void {
    if (next) {
      this.tokens.forEach((row, b) => row.push(next[b]!));
      this.valid.forEach((row) => row.push(true));
    }
    const result = next && this.incremental ? this.extend(next) : this.full();
    this.logits = result.dataSync() as Float32Array;
    result.dispose();
  }

  receive(): Float32Array {
    const logits = this.logits!;
    this.logits = undefined;
    return logits;
  }

  dispose(): void {
    if (this.cache) tf.dispose(tensorsOf(this.cache));
    this.cache = undefined;
    this.copyKeys?.dispose();
    this.copyKeys = undefined;
  }

  /** What the rows may copy: every position so far, the padding excepted. */
  private copySource(keys: tf.Tensor3D): CopySource {
    const last = this.tokens[0]!.length - 1;
    return {
      keys,
      tokens: this.tokens,
      rowSequence: this.tokens.map((_, b) => b),
      rowLimit: this.tokens.map(() => last),
      valid: this.valid,
    };
  }

  private positions(from: number, length: number): tf.Tensor2D {
    const ids = this.tokens.map((_, b) => Array.from({ length }, (_, t) => Math.max(0, from + t - this.padding[b]!)));
    return tf.tensor2d(ids, [this.rows, length], 'int32');
  }

  /** A pass over every token so far; keeps its keys and values when decoding incrementally. */
  private full(): tf.Tensor2D {
    const length = this.tokens[0]!.length;
    const output = tf.tidy(() => {
      const forward = this.model.forward({
        tokens: tf.tensor2d(this.tokens, [this.rows, length], 'int32'),
        positions: this.positions(0, length),
        mask: attentionMask(this.rows, length, 0, this.valid),
      });
      const lastOfEachRow = tf.tensor1d(
        this.tokens.map((_, b) => b * length + length - 1),
        'int32',
      );
      const copyKeys = this.model.config.copy
        ? this.model.copyKeys(forward.hidden, this.tokens, 0, this.valid)
        : undefined;
      return {
        logits: this.model.nextTokenLogits(
          gatherRows(forward.hidden, lastOfEachRow),
          copyKeys && this.copySource(copyKeys),
        ),
        cache: forward.cache.map(({ keysT, values }) => ({ keysT, values })),
        copyKeys,
      };
    });
    this.dispose();
    if (this.incremental) {
      this.cache = output.cache;
      this.copyKeys = output.copyKeys;
    } else tf.dispose([...tensorsOf(output.cache), ...(output.copyKeys ? [output.copyKeys] : [])]);
    return output.logits;
  }

  /** A pass over the newest token of each row, attending to the cache (which it extends). */
  private extend(next: readonly number[]): tf.Tensor2D {
    const previous = this.cache!;
    const length = this.tokens[0]!.length;
    const output = tf.tidy(() => {
      const forward = this.model.forward({
        tokens: tf.tensor2d([...next], [this.rows, 1], 'int32'),
        positions: this.positions(length - 1, 1),
        mask: attentionMask(this.rows, 1, length - 1, this.valid),
        cache: previous,
      });
      const copyKeys =
        this.copyKeys &&
        tf.concat([this.copyKeys, this.model.copyKeys(forward.hidden, this.tokens, length - 1, this.valid)], 1);
      return {
        logits: this.model.nextTokenLogits(forward.hidden, copyKeys && this.copySource(copyKeys)),
        cache: forward.cache.map(({ keysT, values }) => ({ keysT, values })),
        copyKeys,
      };
    });
    tf.dispose(tensorsOf(previous));
    this.copyKeys?.dispose();
    this.cache = output.cache;
    this.copyKeys = output.copyKeys;
    return output.logits;
  }
}

function tensorsOf(cache: readonly LayerCache[]): tf.Tensor[] {
  return cache.flatMap((layer) => [layer.keysT, layer.values]);
}
