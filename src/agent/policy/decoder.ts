/**
 * The forward passes of sampling, without the drawing of tokens: a `Decoder` runs the first pass over a batch of
 * contexts (left-padded, so every row's last token sits in the same column) and then one incremental pass per
 * new token, returning each time the next token's logits of every row. `Policy.sample` draws the tokens; it
 * may split its rows between a decoder of its own and decoders in worker threads (policy-threads.ts), which
 * run the same code on their own copy of the weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type CopySource, type LayerCache, TransformerModel, attentionMask, cacheLength, withRoom } from './model.js';
import { gatherRows } from './ops.js';
import { withRoomAlong, writeSlice } from './copy-kernels.js';

/** One part of a batch being decoded: `send` starts a pass (the first, or one more token per row), `receive` ends it. */
export interface DecodingPart {
  readonly rows: number;
  /** Starts the first pass (`next` undefined) or a pass over one more token per row. */
  send(next?: readonly number[]): void;
  /** The logits [rows x vocab] of the pass `send` started. */
  receive(): Float32Array;
  dispose(): void;
}

/**
 * Positions of room the key-value cache gets when it is full: written in place by the passes that follow
 * (model.ts), where a cache made anew by concatenation every token copied all of it. Attention reads the room
 * too, masked: up to this many positions more a product, against a copy of the whole cache a token.
 */
const CACHE_ROOM = 32;

export class Decoder implements DecodingPart {
  readonly rows: number;
  private readonly tokens: number[][];
  private readonly valid: boolean[][];
  private readonly padding: number[];
  /** Keys and values of every position so far, each layer's, with room (incremental decoding). */
  private cache: LayerCache[] | undefined;
  /** The copy head's keys of every position so far, [B, width, capacity] (a model with a copy head). */
  private copyKeysT: tf.Tensor3D | undefined;
  /**
   * With `copyAhead` N: the keys' part that the N tokens after each position make, [B, width, capacity]; a
   * position's is written again when its N-th token arrives (until then no row uses it).
   */
  private aheadT: tf.Tensor3D | undefined;
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
    this.copyKeysT?.dispose();
    this.copyKeysT = undefined;
    this.aheadT?.dispose();
    this.aheadT = undefined;
  }

  /** What the rows may copy: every position so far, the padding excepted (and the room, by its rows' limit). */
  private copySource(keysT: tf.Tensor3D, aheadT: tf.Tensor3D | undefined): CopySource {
    const last = this.tokens[0]!.length - 1;
    return {
      keysT,
      aheadT,
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

  /** A pass over every token so far; keeps its keys and values, with room, when decoding incrementally. */
  private full(): tf.Tensor2D {
    const length = this.tokens[0]!.length;
    const output = tf.tidy(() => {
      // The last position's state alone, unless the copy head's keys read every position's.
      const copy = this.model.config.copy;
      const forward = this.model.forward({
        tokens: tf.tensor2d(this.tokens, [this.rows, length], 'int32'),
        positions: this.positions(0, length),
        mask: attentionMask(this.rows, length, 0, this.valid),
        columns: copy ? undefined : this.tokens.map(() => [length - 1]),
      });
      const { keysT: copyKeysT, aheadT } = copy
        ? this.model.copyKeyParts(forward.hidden, this.tokens, this.valid)
        : { keysT: undefined, aheadT: undefined };
      const last = copy
        ? gatherRows(
            forward.hidden,
            tf.tensor1d(
              this.tokens.map((_, b) => b * length + length - 1),
              'int32',
            ),
          )
        : forward.hidden;
      return {
        logits: this.model.nextTokenLogits(last, copyKeysT && this.copySource(copyKeysT, aheadT)),
        cache: forward.cache.map(({ keysT, values, length }) => ({ keysT, values, length })),
        copyKeysT,
        aheadT,
      };
    });
    this.dispose();
    this.cache = output.cache;
    this.copyKeysT = output.copyKeysT;
    this.aheadT = output.aheadT;
    if (this.incremental) this.makeRoom();
    else this.dispose();
    return output.logits;
  }

  /** A pass over the newest token of each row, attending to the cache, which it writes in place. */
  private extend(next: readonly number[]): tf.Tensor2D {
    if (cacheLength(this.cache![0]!) === this.cache![0]!.keysT.shape[3]) this.makeRoom();
    const previous = this.cache!;
    const previousCopyKeysT = this.copyKeysT;
    const previousAheadT = this.aheadT;
    const ahead = this.model.config.copyAhead;
    const length = this.tokens[0]!.length;
    const capacity = previous[0]!.keysT.shape[3];
    const output = tf.tidy(() => {
      const forward = this.model.forward({
        tokens: tf.tensor2d([...next], [this.rows, 1], 'int32'),
        positions: this.positions(length - 1, 1),
        mask: attentionMask(this.rows, 1, length - 1, this.valid, capacity),
        cache: previous,
      });
      // The forward pass refused a token past the context's end, so the room (made above) holds this one.
      const copyKeysT =
        previousCopyKeysT &&
        writeSlice(
          previousCopyKeysT,
          this.model.copyKeys(forward.hidden, this.tokens, length - 1, this.valid),
          2,
          length - 1,
        );
      // The position whose N-th token after it this one is gets its ahead part in full (the others are unused).
      const complete = length - 1 - ahead;
      const aheadT =
        previousAheadT && complete >= 0
          ? writeSlice(previousAheadT, this.model.copyAheadKeys(this.tokens, complete, 1, this.valid), 2, complete)
          : previousAheadT;
      return {
        logits: this.model.nextTokenLogits(forward.hidden, copyKeysT && this.copySource(copyKeysT, aheadT)),
        cache: forward.cache.map(({ keysT, values, length }) => ({ keysT, values, length })),
        copyKeysT,
        aheadT,
      };
    });
    tf.dispose(tensorsOf(previous));
    previousCopyKeysT?.dispose();
    if (output.aheadT !== previousAheadT) previousAheadT?.dispose();
    this.cache = output.cache;
    this.copyKeysT = output.copyKeysT;
    this.aheadT = output.aheadT;
    return output.logits;
  }

  /**
   * Gives the cache (and the copy head's keys) room for CACHE_ROOM positions more, as many as the context has
   * left: new tensors, the old ones disposed.
   */
  private makeRoom(): void {
    const cache = this.cache!;
    const length = cacheLength(cache[0]!);
    const capacity = Math.min(this.model.config.contextLength, length + CACHE_ROOM);
    if (capacity <= cache[0]!.keysT.shape[3]) return;
    this.cache = cache.map((layer) => withRoom(layer, capacity));
    tf.dispose(tensorsOf(cache));
    const copyKeysT = this.copyKeysT;
    if (copyKeysT) {
      this.copyKeysT = withRoomAlong(copyKeysT, 2, length, capacity);
      copyKeysT.dispose();
    }
    const aheadT = this.aheadT;
    if (aheadT) {
      this.aheadT = withRoomAlong(aheadT, 2, length, capacity);
      aheadT.dispose();
    }
  }
}

function tensorsOf(cache: readonly LayerCache[]): tf.Tensor[] {
  return cache.flatMap((layer) => [layer.keysT, layer.values]);
}
