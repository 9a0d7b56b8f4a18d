/**
 * A decoder-only transformer (GPT-2 layout: learned positions, pre-norm blocks, ReLU MLP, an output head
 * of its own or tied to the token embedding, no biases in the projections) written with raw tfjs ops so
 * that every kernel it needs exists on the wasm backend (see ops.ts). `forward` serves training (whole
 * sequences) and incremental decoding (new tokens attend to a cache of earlier keys and values).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { TurngymError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { withRoomAlong, writeSlice } from './copy-kernels.js';
import { gatherRows, layerNorm, matMul, scatterAdd, swapLastAxes } from './ops.js';

/** How many tokens beside a position the copy head sees (`copyPrevious`, `copyAhead`): none by default. */
const tokenWindow = z.number().int().min(0).max(8).default(0);

/** The shape of a model: each field's bounds, default and meaning, declared here only (train and sft take them). */
export const modelShapeSchema = z.object({
  layers: z.number().int().min(1).max(64).default(2).describe('Transformer blocks'),
  width: z.number().int().min(8).max(4096).default(128).describe('Model width (embedding size)'),
  heads: z.number().int().min(1).max(64).default(4).describe('Attention heads; must divide width'),
  contextLength: z.number().int().min(8).max(8192).default(256).describe('Longest sequence, in tokens'),
  ffnWidth: z.number().int().min(8).max(16384).optional().describe('Hidden width of the MLP; default 4 x width'),
  tiedEmbeddings: z
    .boolean()
    .default(false)
    .describe(
      'Compute the logits with the token embedding (transposed) instead of a separate output head, as GPT-2 does',
    ),
  copy: z
    .boolean()
    .default(false)
    .describe(
      'A copy head (pointer-generator): the next token is a learned mix of the vocabulary distribution and a pointer over the tokens so far, so a name, an id or a number in the context can be copied whatever its ids',
    ),
  copyPrevious: tokenWindow.describe(
    'With the copy head: each position\'s copy key, and each row\'s pointer query and gates, also see the embeddings of the N tokens before it, so the pointer can aim at what follows a phrase (the answer after "works for") and tell an opening quote from a closing one',
  ),
  copyAhead: tokenWindow.describe(
    'With the copy head: each position\'s copy key also sees the embeddings of the N tokens after it, once a row has read them (a row uses that part of a key only where all N come before it), so the pointer can aim at an id written before the name it stands for ("[6] radio \\"Pickup\\"", "[person-2] Ada Vallow"): a causal key cannot see what follows it',
  ),
  copyPunctuation: z
    .string()
    .max(16)
    .regex(/^[^\p{L}\p{N}\s]*$/u, 'punctuation characters only (no letters, digits or spaces)')
    .default('')
    .describe(
      'With the copy head: punctuation characters that the pointer may point at (a token of them alone, with or without a leading space), such as "&" for organisation names written "A & B Group": copied and continued like a word, where otherwise the vocabulary head must guess them without seeing the name; by default none',
    ),
  toolsInContext: z
    .boolean()
    .default(true)
    .describe(
      "Start the policy's context with the env's list of tools. A policy trained on one env sees the same list in every episode, so leaving it out (false) only saves tokens: 131 of a 1-hop search episode's 500 (docs/training.md)",
    ),
});
export type ModelShape = z.output<typeof modelShapeSchema>;

/**
 * A model shape as chosen (the `model` option of train and behaviour cloning): the fields of
 * {@link modelShapeSchema} with their bounds, each optional and not filled in, so that a run's config records
 * what was chosen; the policy fills in the rest.
 */
export const modelChoiceSchema = z.object(
  Object.fromEntries(
    Object.entries(modelShapeSchema.shape).map(([name, field]) => [
      name,
      (field instanceof z.ZodDefault ? field.unwrap() : field).optional(),
    ]),
  ),
) as unknown as z.ZodType<Partial<ModelShape>, Partial<ModelShape>>;

export const modelConfigSchema = z
  .object({
    vocabSize: z.number().int().min(2).describe('Number of token ids (set from the tokenizer)'),
    ...modelShapeSchema.shape,
  })
  .transform((config) => ({ ...config, ffnWidth: config.ffnWidth ?? 4 * config.width }));
export type ModelConfig = z.output<typeof modelConfigSchema>;

/**
 * Keys and values of earlier positions, per layer: keys stored transposed ([B, H, dh, C]) for the product, values
 * [B, H, C, dh]. C is the cache's capacity: the first `length` positions hold keys and values, the rest is room
 * that the next passes write in place (copy-kernels.ts) instead of making a longer cache ({@link withRoom}).
 */
export interface LayerCache {
  keysT: tf.Tensor4D;
  values: tf.Tensor4D;
  /** Positions filled (default: the capacity, no room). */
  length?: number;
}

/** Positions filled in a layer's cache. */
export function cacheLength(cache: LayerCache): number {
  return cache.length ?? cache.keysT.shape[3];
}

/**
 * A layer's cache with capacity `capacity` (at least its length): its keys and values followed by zeros (room),
 * a new pair of tensors. Attention reads every position of the capacity; the mask hides the room (masked
 * positions get a weight of exactly 0, so the values are those of a cache without room).
 */
export function withRoom(cache: LayerCache, capacity: number): LayerCache {
  const length = cacheLength(cache);
  return {
    keysT: withRoomAlong(cache.keysT, 3, length, capacity),
    values: withRoomAlong(cache.values, 2, length, capacity),
    length,
  };
}

export interface ForwardInput {
  /** Token ids [B, T] (int32). */
  tokens: tf.Tensor2D;
  /** Position ids [B, T] (int32); default 0..T-1 in every row. */
  positions?: tf.Tensor2D;
  /**
   * Additive attention mask [B, 1, T, K] (0 where a query may attend, -1e9 where not), K the keys attended:
   * Tcache + T, or the cache's capacity where it has room for the T new positions. Default causal. Built with
   * {@link attentionMask}.
   */
  mask?: tf.Tensor4D;
  /** Keys and values of earlier positions (incremental decoding). */
  cache?: LayerCache[];
  /**
   * The columns (0..T-1 of this pass) of each sequence whose final hidden states are wanted; default all. The last
   * block then runs its queries, attention, output projection and MLP on those rows alone (its keys and values
   * still cover every position, for the cache): the same values for those rows as a full pass, with that block's
   * work cut to the rows asked for. Rows of `hidden` are then b * Q + q for the q-th column listed for sequence b,
   * Q the longest list (shorter lists are padded by repeating their last column, or column 0 for an empty one).
   * Pass it only where nothing reads the other rows: a copy head's keys read every row.
   */
  columns?: readonly (readonly number[])[];
}

export interface ForwardOutput {
  /** Final hidden states, [B * T, width] (row b * T + t); with `columns`, [B * Q, width] (row b * Q + q). */
  hidden: tf.Tensor2D;
  /** Keys and values of every position so far (the input cache extended by this call). */
  cache: LayerCache[];
}

/** The names of a model's variables, in a fixed order (the order of checkpoints). */
export function parameterShapes(config: ModelConfig): [string, number[]][] {
  const { vocabSize, width, contextLength, ffnWidth } = config;
  const shapes: [string, number[]][] = [
    ['token_embedding', [vocabSize, width]],
    ['position_embedding', [contextLength, width]],
  ];
  for (let layer = 0; layer < config.layers; layer++) {
    const prefix = `layer${layer}`;
    shapes.push(
      [`${prefix}/norm1_scale`, [width]],
      [`${prefix}/norm1_shift`, [width]],
      [`${prefix}/query`, [width, width]],
      [`${prefix}/key`, [width, width]],
      [`${prefix}/value`, [width, width]],
      [`${prefix}/output`, [width, width]],
      [`${prefix}/norm2_scale`, [width]],
      [`${prefix}/norm2_shift`, [width]],
      [`${prefix}/mlp_in`, [width, ffnWidth]],
      [`${prefix}/mlp_out`, [ffnWidth, width]],
    );
  }
  shapes.push(['final_norm_scale', [width]], ['final_norm_shift', [width]]);
  if (!config.tiedEmbeddings) shapes.push(['head', [width, vocabSize]]);
  if (config.copy)
    shapes.push(
      ['copy_query', [width, width]],
      ['copy_key', [width, width]],
      ['copy_gate', [width, 1]],
      ['copy_gate_shift', [1]],
      ['copy_space', [width, 1]],
      ['copy_space_shift', [1]],
      ['copy_follow', [width, 2]],
      ['copy_follow_shift', [2]],
    );
  if (config.copy && config.copyPrevious > 0)
    shapes.push(
      ['copy_previous', [config.copyPrevious * width, width]],
      ['copy_row_previous', [config.copyPrevious * width, width]],
    );
  if (config.copy && config.copyAhead > 0) shapes.push(['copy_ahead', [config.copyAhead * width, width]]);
  return shapes;
}

/** Multiply-adds x 2 of one forward pass over `tokens` positions attending to `keys` positions each, per layer and in the head. */
export function forwardFlops(config: ModelConfig, tokens: number, averageKeys: number): number {
  const { width, ffnWidth, layers, vocabSize } = config;
  const perLayer = 2 * (4 * width * width + 2 * width * ffnWidth) + 2 * 2 * averageKeys * width;
  return tokens * (layers * perLayer) + 2 * tokens * width * vocabSize;
}

/** What a row of the copy head may copy: see {@link TransformerModel.nextTokenLogits}. */
export interface CopySource {
  /**
   * Copy keys of every position of each sequence so far, transposed for the product: [B, width, Tk]
   * ({@link TransformerModel.copyKeys}).
   */
  keysT: tf.Tensor3D;
  /**
   * With `copyAhead` N: the part of each position's key that the N tokens after it make, [B, width, Tk]
   * ({@link TransformerModel.copyAheadKeys}); a row adds it to position j's key only where j + N <= its limit.
   */
  aheadT?: tf.Tensor3D;
  /** Token id at each of those positions, [B][Tk]. */
  tokens: readonly (readonly number[])[];
  /** The sequence of each row. */
  rowSequence: readonly number[];
  /** The last position each row may copy from (its own position: a row predicts the token after it). */
  rowLimit: readonly number[];
  /** Positions that may be copied at all, [B][Tk] (false: left padding); default all. */
  valid?: readonly (readonly boolean[])[];
}

/**
 * Refuses a shape no model can have (heads that do not divide the width, a copy-head setting without the copy
 * head), with a message that says what to change: the constructor's check, which a command can run before it
 * spends minutes on demonstrations.
 */
export function checkModelShape(
  shape: Pick<ModelShape, 'width' | 'heads' | 'copy' | 'copyPrevious' | 'copyAhead' | 'copyPunctuation'>,
): void {
  if (shape.width % shape.heads !== 0) {
    throw new TurngymError('INVALID_OPTIONS', `width (${shape.width}) must be a multiple of heads (${shape.heads})`);
  }
  if (shape.copyPrevious > 0 && !shape.copy) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `copyPrevious (${shape.copyPrevious}) is a setting of the copy head: add copy (--copy), or leave copyPrevious at 0`,
    );
  }
  if (shape.copyAhead > 0 && !shape.copy) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `copyAhead (${shape.copyAhead}) is a setting of the copy head: add copy (--copy), or leave copyAhead at 0`,
    );
  }
  if (shape.copyPunctuation !== '' && !shape.copy) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `copyPunctuation (${JSON.stringify(shape.copyPunctuation)}) is a setting of the copy head: add copy (--copy), or leave copyPunctuation empty`,
    );
  }
}

/** Added to the mixture before its log, so that a token with no probability has a finite score. */
const MIXTURE_FLOOR = 1e-10;

let modelCount = 0;

export class TransformerModel {
  readonly config: ModelConfig;
  /** Trainable variables by name, in checkpoint order. */
  readonly variables: Map<string, tf.Variable>;
  /**
   * The copy head's table of token ids (the policy sets it from its tokenizer): each id's twins with and without
   * a leading space (`Tokenizer.spaceVariants`: a word pointed at is written either way, as a learned gate
   * chooses), and whether it may be copied at all (not a special token: copying an `<|end|>` read in the context
   * would end the action). Unset: every token is copied as it is.
   */
  copyVariants: { spaced: Int32Array; plain: Int32Array; copyable: Uint8Array } | undefined;

  /** A model with freshly initialised weights (normal(0, 0.02); residual outputs scaled by 1/sqrt(2 layers)). */
  constructor(config: ModelConfig, seed = 0) {
    this.config = modelConfigSchema.parse(config);
    checkModelShape(this.config);
    const rng = Rng.fromSeed(seed);
    const instance = modelCount++;
    this.variables = new Map();
    for (const [name, shape] of parameterShapes(this.config)) {
      const initial = tf.tidy(() => {
        if (name.endsWith('_scale')) return tf.ones(shape);
        if (name.endsWith('_shift')) return tf.zeros(shape);
        const residual = name.endsWith('/output') || name.endsWith('/mlp_out');
        const std = residual ? 0.02 / Math.sqrt(2 * this.config.layers) : 0.02;
        return tf.randomNormal(shape, 0, std, 'float32', rng.seed());
      });
      // tfjs variable names are global; the instance number keeps two models in one process apart.
      this.variables.set(name, tf.variable(initial, true, `turngym_policy${instance}/${name}`));
      initial.dispose();
    }
  }

  /** Number of weights. */
  get parameterCount(): number {
    let count = 0;
    for (const variable of this.variables.values()) count += variable.size;
    return count;
  }

  private weight<T extends tf.Tensor>(name: string): T {
    return this.variables.get(name) as unknown as T;
  }

  /** Runs the transformer; call inside `tf.tidy` (or a gradient function) and dispose what you keep. */
  forward(input: ForwardInput): ForwardOutput {
    const { width, heads, layers } = this.config;
    const [batch, length] = input.tokens.shape;
    const headWidth = width / heads;
    const cached = input.cache?.[0] ? cacheLength(input.cache[0]) : 0;
    if (cached + length > this.config.contextLength) {
      throw new Error(`sequence of ${cached + length} tokens exceeds the context length ${this.config.contextLength}`);
    }
    const tokenRows = gatherRows(this.weight('token_embedding'), tf.reshape(input.tokens, [-1]) as tf.Tensor1D);
    let x: tf.Tensor2D;
    if (input.positions) {
      x = tf.add(
        tokenRows,
        gatherRows(this.weight('position_embedding'), tf.reshape(input.positions, [-1]) as tf.Tensor1D),
      );
    } else {
      // Positions 0..T-1 in every row: a slice, whose gradient every backend has.
      const positions = tf.slice(this.weight<tf.Tensor2D>('position_embedding'), [cached, 0], [length, width]);
      x = tf.reshape(tf.add(tf.reshape(tokenRows, [batch, length, width]), positions), [batch * length, width]);
    }
    // Keys attended: the cache's capacity where it has room for this pass, else all so far (a cache made with room
    // for exactly this pass); either way the pass writes its keys and values into it in place.
    const capacity = input.cache?.[0]?.keysT.shape[3] ?? 0;
    const keys = capacity >= cached + length ? capacity : cached + length;
    const mask = input.mask ?? attentionMask(1, length, cached, undefined, keys);
    const scale = 1 / Math.sqrt(headWidth);
    const cache: LayerCache[] = [];
    if (input.columns && (mask.shape[2] !== length || (mask.shape[0] !== 1 && mask.shape[0] !== batch)))
      throw new Error(
        `columns need a mask of a row a query ([1 or ${batch}, 1, ${length}, keys]), not [${mask.shape}]`,
      );
    const selection = input.columns && outputRows(input.columns, batch, length);
    for (let layer = 0; layer < layers; layer++) {
      const prefix = `layer${layer}`;
      const normed = layerNorm(x, this.weight(`${prefix}/norm1_scale`), this.weight(`${prefix}/norm1_shift`));
      const split = (projection: tf.Tensor2D) => tf.reshape(projection, [batch, length, heads, headWidth]);
      // The last block's queries and all after them, for the rows asked for alone (`columns`).
      const only = layer === layers - 1 ? selection : undefined;
      const queryLength = only ? only.perSequence : length;
      let queryInput = normed;
      let rowMask = mask;
      if (only) {
        const rows = tf.tensor1d(only.rows, 'int32');
        x = gatherRows(x, rows);
        queryInput = gatherRows(normed, rows);
        // The mask's rows of those columns (a mask of one row for every sequence: by column alone).
        const maskRows = mask.shape[0] === batch ? rows : tf.tensor1d(only.columns, 'int32');
        const picked = gatherRows(tf.reshape(mask, [-1, keys]) as tf.Tensor2D, maskRows);
        rowMask = tf.reshape(picked, [batch, 1, queryLength, keys]);
      }
      const queries = tf.transpose(
        tf.reshape(matMul(queryInput, this.weight(`${prefix}/query`)), [batch, queryLength, heads, headWidth]),
        [0, 2, 1, 3],
      );
      let keysT = tf.transpose(split(matMul(normed, this.weight(`${prefix}/key`))), [0, 2, 3, 1]) as tf.Tensor4D;
      let values = tf.transpose(split(matMul(normed, this.weight(`${prefix}/value`))), [0, 2, 1, 3]) as tf.Tensor4D;
      const previous = input.cache?.[layer];
      if (previous) {
        const target = keys === previous.keysT.shape[3] ? previous : withRoom(previous, keys);
        keysT = writeSlice(target.keysT, keysT, 3, cached);
        values = writeSlice(target.values, values, 2, cached);
      }
      cache.push({ keysT, values, length: cached + length });
      const scores = matMul(
        tf.reshape(queries, [batch * heads, queryLength, headWidth]),
        tf.reshape(keysT, [batch * heads, headWidth, keys]),
      );
      const masked = tf.add(tf.mul(tf.reshape(scores, [batch, heads, queryLength, keys]), scale), rowMask);
      const weights = tf.reshape(tf.softmax(masked), [batch * heads, queryLength, keys]);
      const attended = matMul(weights, tf.reshape(values, [batch * heads, keys, headWidth]));
      const merged = tf.reshape(
        tf.transpose(tf.reshape(attended, [batch, heads, queryLength, headWidth]), [0, 2, 1, 3]),
        [batch * queryLength, width],
      );
      x = tf.add(x, matMul(merged, this.weight(`${prefix}/output`)));
      const normed2 = layerNorm(x, this.weight(`${prefix}/norm2_scale`), this.weight(`${prefix}/norm2_shift`));
      const inner = tf.relu(matMul(normed2, this.weight(`${prefix}/mlp_in`)));
      x = tf.add(x, matMul(inner, this.weight(`${prefix}/mlp_out`)));
    }
    const hidden = layerNorm(x, this.weight('final_norm_scale'), this.weight('final_norm_shift'));
    return { hidden, cache };
  }

  /** Logits [N, vocab] of the vocabulary head for hidden rows [N, width] (without the copy head). */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    if (this.config.tiedEmbeddings) return matMul(hidden, tf.transpose(this.weight<tf.Tensor2D>('token_embedding')));
    return matMul(hidden, this.weight('head'));
  }

  /**
   * The copy head's keys, transposed for the product ([B, width, T], as attention's cached keys), of final hidden states [B * T, width] (row b * T + t) at columns
   * from..from + T - 1 of `tokens` (each sequence's ids; with `copyPrevious`, the tokens before a column feed
   * its key; `valid` marks padding, which counts as no token).
   */
  copyKeys(
    hidden: tf.Tensor2D,
    tokens: readonly ArrayLike<number>[],
    from: number,
    valid?: readonly (readonly boolean[])[],
  ): tf.Tensor3D {
    const batch = tokens.length;
    const length = hidden.shape[0] / batch;
    const at: [number, number][] = [];
    for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) at.push([b, from + t]);
    const keys = matMul(this.withTokensBefore(hidden, tokens, at, 'copy_previous', valid), this.weight('copy_key'));
    return swapLastAxes(tf.reshape(keys, [batch, length, this.config.width])) as tf.Tensor3D;
  }

  /**
   * The keys a row of the copy head points with, over whole sequences from column 0 (see {@link CopySource}):
   * `keysT` from final hidden states [B * T, width], and with `copyAhead` the part the tokens after each
   * position make (`aheadT`).
   */
  copyKeyParts(
    hidden: tf.Tensor2D,
    tokens: readonly ArrayLike<number>[],
    valid?: readonly (readonly boolean[])[],
  ): Pick<CopySource, 'keysT' | 'aheadT'> {
    const length = hidden.shape[0] / tokens.length;
    return {
      keysT: this.copyKeys(hidden, tokens, 0, valid),
      aheadT: this.config.copyAhead > 0 ? this.copyAheadKeys(tokens, 0, length, valid) : undefined,
    };
  }

  /**
   * The part of the copy head's keys that the tokens after each position make, transposed ([B, width, T]), for
   * columns from..from + T - 1 of `tokens`: a learned projection (`copy_ahead`) of the embeddings of the
   * `copyAhead` N tokens after each column (words without their leading space; a token not yet there, or
   * padding, counts as none). A row uses position j's part only where j + N is at most its own position, so
   * nothing it has not read reaches it (see {@link copyMixture}).
   */
  copyAheadKeys(
    tokens: readonly ArrayLike<number>[],
    from: number,
    length: number,
    valid?: readonly (readonly boolean[])[],
  ): tf.Tensor3D {
    const { width, copyAhead } = this.config;
    const at: [number, number][] = [];
    for (let b = 0; b < tokens.length; b++) for (let t = 0; t < length; t++) at.push([b, from + t]);
    const offsets = Array.from({ length: copyAhead }, (_, k) => k + 1);
    const ahead = matMul(this.neighbourEmbeddings(tokens, at, offsets, valid), this.weight('copy_ahead'));
    return swapLastAxes(tf.reshape(ahead, [tokens.length, length, width])) as tf.Tensor3D;
  }

  /**
   * Rows [N, width] plus, with `copyPrevious` N > 0, a learned projection (variable `projection`) of the
   * embeddings of the N tokens before each row's position (`at`: sequence and column; words without their
   * leading space; nothing before the first or in padding): what a pointer needs to aim at the word after a phrase, or to
   * tell an opening quote from a closing one, without spending a layer on it.
   */
  private withTokensBefore(
    rows: tf.Tensor2D,
    tokens: readonly ArrayLike<number>[],
    at: readonly [number, number][],
    projection: string,
    valid?: readonly (readonly boolean[])[],
  ): tf.Tensor2D {
    const { copyPrevious } = this.config;
    if (copyPrevious === 0) return rows;
    const offsets = Array.from({ length: copyPrevious }, (_, k) => -1 - k);
    return tf.add(rows, matMul(this.neighbourEmbeddings(tokens, at, offsets, valid), this.weight(projection)));
  }

  /**
   * The embeddings, scaled to unit size, of the tokens at `offsets` from each of `at` (sequence and column),
   * side by side: [at.length, offsets.length * width]; words without their leading space; zero where there is
   * no token (before the first, after the last, padding).
   */
  private neighbourEmbeddings(
    tokens: readonly ArrayLike<number>[],
    at: readonly [number, number][],
    offsets: readonly number[],
    valid?: readonly (readonly boolean[])[],
  ): tf.Tensor2D {
    const { width } = this.config;
    const count = offsets.length;
    const plain = this.copyVariants?.plain;
    const ids = new Int32Array(at.length * count);
    const present = new Float32Array(at.length * count); // 0: no token there (its embedding is zeroed)
    at.forEach(([b, column], row) => {
      const sequence = tokens[b]!;
      offsets.forEach((offset, k) => {
        const j = column + offset;
        if (j < 0 || j >= sequence.length || valid?.[b]?.[j] === false) return;
        ids[row * count + k] = plain ? plain[sequence[j]!]! : sequence[j]!;
        present[row * count + k] = 1;
      });
    });
    // Embeddings are small (initialised at 0.02) where hidden rows are layer-normed: scaled to unit size first,
    // so that the projection learns as fast as the rest of the head.
    const embeddings = gatherRows(this.weight('token_embedding'), tf.tensor1d(ids, 'int32'));
    const scale = tf.mul(
      tf.rsqrt(tf.add(tf.mean(tf.square(embeddings), 1, true), 1e-6)),
      tf.tensor2d(present, [present.length, 1]),
    );
    return tf.reshape(tf.mul(embeddings, scale), [at.length, count * width]) as tf.Tensor2D;
  }

  /**
   * The next-token scores [R, vocab] of hidden rows [R, width], as logits: the vocabulary head's; with the copy
   * head, the log of the pointer-generator mixture (See et al. 2017) g * softmax(head) + (1 - g) * copy (see
   * {@link copyMixture}). Softmax of these is the mixture, so temperature and sampling treat them as logits.
   */
  nextTokenLogits(hidden: tf.Tensor2D, copy?: CopySource): tf.Tensor2D {
    if (!this.config.copy) return this.logits(hidden);
    if (!copy) throw new Error('nextTokenLogits: a model with a copy head needs the positions it may copy from');
    const { vocabulary, gate, copied } = this.copyMixture(hidden, copy);
    const mixture = tf.add(tf.mul(gate, vocabulary), tf.mul(tf.sub(1, gate), copied));
    return tf.log(tf.add(mixture, MIXTURE_FLOOR)) as tf.Tensor2D;
  }

  /**
   * The parts of the copy head's mixture for hidden rows [R, width]: the vocabulary head's distribution, the
   * gate g [R, 1] (its share), and the copy distribution [R, vocab], which puts on each token the attention
   * weight its positions get from the row (`copy` says which positions: keys and token ids of each sequence,
   * and for each row its sequence and the last position it may copy, usually its own).
   */
  copyMixture(
    hidden: tf.Tensor2D,
    copy: CopySource,
  ): { vocabulary: tf.Tensor2D; gate: tf.Tensor2D; copied: tf.Tensor2D } {
    const { width, vocabSize } = this.config;
    const [batch, , keys] = copy.keysT.shape;
    const rows = hidden.shape[0];
    // Rows grouped by sequence into slots [B, S]: one product per sequence against its own keys.
    const slotOf: number[] = [];
    const perSequence = Array<number>(batch).fill(0);
    for (let r = 0; r < rows; r++) slotOf.push(perSequence[copy.rowSequence[r]!]!++);
    const slots = Math.max(1, ...perSequence);
    const rowAt = new Int32Array(batch * slots).fill(rows); // index `rows`: a zero row (an empty slot)
    const mask = new Float32Array(batch * slots * keys).fill(-1e9);
    // Continuation: position j follows a copy of the row's own last token (follows[0]) or of its last two
    // (follows[1]), words compared without their leading space: a name of several tokens (a byte run, for a
    // word the tokenizer never saw, or subwords) is copied on from where the last copied token was read.
    const follows = [new Float32Array(batch * slots * keys), new Float32Array(batch * slots * keys)];
    // Where a row may use the part of a key the tokens after it make: all `copyAhead` of them read (j + N <= t).
    const ahead = this.config.copyAhead;
    if (ahead > 0 && !copy.aheadT) throw new Error("copyMixture: a model with copyAhead needs the keys' ahead part");
    const readAhead = ahead > 0 ? new Float32Array(batch * slots * keys) : undefined;
    const plain = (token: number | undefined) =>
      token === undefined ? -1 : this.copyVariants ? this.copyVariants.plain[token]! : token;
    for (let r = 0; r < rows; r++) {
      const b = copy.rowSequence[r]!;
      const slot = b * slots + slotOf[r]!;
      rowAt[slot] = r;
      const valid = copy.valid?.[b];
      const tokens = copy.tokens[b]!;
      const t = copy.rowLimit[r]!;
      const last = plain(tokens[t]);
      const before = t > 0 && (!valid || valid[t - 1]) ? plain(tokens[t - 1]) : -2;
      for (let j = 0; j <= Math.min(t, keys - 1); j++) {
        if ((valid && !valid[j]) || this.copyVariants?.copyable[tokens[j]!] === 0) continue;
        mask[slot * keys + j] = 0;
        if (readAhead && j + ahead <= t) readAhead[slot * keys + j] = 1;
        if (j === 0 || (valid && !valid[j - 1]) || plain(tokens[j - 1]) !== last) continue;
        follows[0]![slot * keys + j] = 1;
        if (j >= 2 && (!valid || valid[j - 2]) && plain(tokens[j - 2]) === before) follows[1]![slot * keys + j] = 1;
      }
    }
    const row = this.withTokensBefore(
      hidden,
      copy.tokens,
      copy.rowSequence.map((b, r) => [b, copy.rowLimit[r]!]),
      'copy_row_previous',
      copy.valid,
    );
    // Rows into their slots (empty slots get a zero row), and back; not needed where row r is slot r (decoding).
    const inOrder = rows === batch * slots && rowAt.every((at, slot) => at === slot);
    const toSlots = (x: tf.Tensor2D) =>
      inOrder ? x : gatherRows(tf.concat([x, tf.zeros([1, x.shape[1]])]) as tf.Tensor2D, tf.tensor1d(rowAt, 'int32'));
    const queries = matMul(row, this.weight('copy_query'));
    const padded = toSlots(queries);
    const slotted = tf.reshape(padded, [batch, slots, width]) as tf.Tensor3D;
    let scores = matMul(slotted, copy.keysT);
    if (readAhead)
      scores = tf.add(scores, tf.mul(matMul(slotted, copy.aheadT!), tf.tensor3d(readAhead, [batch, slots, keys])));
    // How much each row follows on: a learned function of the row (on in the middle of copying a name, off after
    // an opening quote, where the positions after earlier quotes hold earlier arguments and closing brackets).
    const follow = toSlots(tf.add(matMul(row, this.weight('copy_follow')), this.weight('copy_follow_shift')));
    const [followOne, followTwo] = tf.split(follow, 2, 1);
    const pointer = tf.softmax(
      tf.addN([
        tf.mul(tf.reshape(scores, [batch * slots, keys]), 1 / Math.sqrt(width)),
        tf.tensor2d(mask, [batch * slots, keys]),
        tf.mul(tf.tensor2d(follows[0]!, [batch * slots, keys]), followOne!),
        tf.mul(tf.tensor2d(follows[1]!, [batch * slots, keys]), followTwo!),
      ]),
    );
    const slotRows = new Int32Array(rows);
    for (let r = 0; r < rows; r++) slotRows[r] = copy.rowSequence[r]! * slots + slotOf[r]!;
    const rowPointer = inOrder
      ? (pointer as tf.Tensor2D)
      : gatherRows(pointer as tf.Tensor2D, tf.tensor1d(slotRows, 'int32'));
    // Each row's weight on each position, added onto that position's token: a share s (a learned gate) onto its
    // spaced twin, 1 - s onto its plain twin (one token when it has no twin).
    const targets = new Int32Array(rows * keys * 4);
    const variants = this.copyVariants;
    for (let r = 0; r < rows; r++) {
      const tokens = copy.tokens[copy.rowSequence[r]!]!;
      for (let j = 0; j < keys; j++) {
        const token = tokens[j] ?? 0;
        const at = (r * keys + j) * 2;
        targets[at] = r;
        targets[at + 1] = variants ? variants.spaced[token]! : token;
        targets[rows * keys * 2 + at] = r;
        targets[rows * keys * 2 + at + 1] = variants ? variants.plain[token]! : token;
      }
    }
    const space = tf.sigmoid(tf.add(matMul(row, this.weight('copy_space')), this.weight('copy_space_shift')));
    const copied = scatterAdd(
      tf.tensor2d(targets, [2 * rows * keys, 2], 'int32'),
      tf.concat([
        tf.reshape(tf.mul(rowPointer, space), [rows * keys]),
        tf.reshape(tf.mul(rowPointer, tf.sub(1, space)), [rows * keys]),
      ]) as tf.Tensor1D,
      [rows, vocabSize],
    );
    const gate = tf.sigmoid(tf.add(matMul(row, this.weight('copy_gate')), this.weight('copy_gate_shift')));
    return { vocabulary: tf.softmax(this.logits(hidden)), gate: gate as tf.Tensor2D, copied };
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}

/**
 * The rows of a [B * T, width] pass that `columns` asks for, padded to the same count a sequence (see
 * {@link ForwardInput.columns}): `rows` (b * T + t), their `columns` (t), and that count.
 */
function outputRows(
  columns: readonly (readonly number[])[],
  batch: number,
  length: number,
): { rows: number[]; columns: number[]; perSequence: number } {
  if (columns.length !== batch) throw new Error(`columns lists ${columns.length} sequences for a batch of ${batch}`);
  const perSequence = Math.max(1, ...columns.map((listed) => listed.length));
  const rows: number[] = [];
  const at: number[] = [];
  columns.forEach((listed, b) => {
    for (let q = 0; q < perSequence; q++) {
      const t = listed[Math.min(q, listed.length - 1)] ?? 0;
      if (!Number.isInteger(t) || t < 0 || t >= length) throw new Error(`column ${t} is outside a pass of ${length}`);
      rows.push(b * length + t);
      at.push(t);
    }
  });
  return { rows, columns: at, perSequence };
}

/**
 * An additive attention mask [B, 1, T, keys] (keys default cached + T; more for a cache with room): query t (at
 * absolute index cached + t) may attend key j when j <= cached + t and, if `keyValid` is given, keyValid[b][j]
 * is true (left padding is not).
 */
export function attentionMask(
  batch: number,
  length: number,
  cached: number,
  keyValid?: readonly (readonly boolean[])[],
  keys = cached + length,
): tf.Tensor4D {
  const data = new Float32Array(batch * length * keys);
  for (let b = 0; b < batch; b++) {
    const valid = keyValid?.[b];
    for (let t = 0; t < length; t++) {
      const row = (b * length + t) * keys;
      for (let j = 0; j < keys; j++) {
        if (j > cached + t || (valid && !valid[j])) data[row + j] = -1e9;
      }
    }
  }
  return tf.tensor4d(data, [batch, 1, length, keys]);
}
