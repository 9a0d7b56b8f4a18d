/**
 * Checkpoints: a directory holding everything needed to rebuild a policy exactly.
 *
 *   config.json      format and version, model config, optimizer config, maxActionTokens, the tokenizer's
 *                    fingerprint, and free-form metadata (how it was trained, held-out results)
 *   tokenizer.json   the tokenizer (see tokenizer.ts)
 *   weights.json     manifest of weights.bin: each tensor's name, shape and offset, and the file's SHA-256
 *   weights.bin      float32 little-endian values, in manifest order
 *   optimizer.json / optimizer.bin   the optimizer's step and moments, in the same format (optional)
 *
 * Loading checks every file: a missing or unreadable file, invalid JSON, a checksum that does not match, or
 * shapes that disagree with the config throw a {@link CheckpointError} that says which file and why.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TurngymError, describeError } from '../../core/errors.js';
import { modelConfigSchema, parameterShapes, TransformerModel } from './model.js';
import { AdamW, optimizerConfigSchema } from './optimizer.js';
import { Policy } from './policy.js';
import { Tokenizer } from './tokenizer.js';

export const CHECKPOINT_FORMAT = 'turngym-policy';
export const CHECKPOINT_VERSION = 1;

/** What to do about a damaged checkpoint (a file missing, cut short or corrupted), wherever it is loaded. */
const DAMAGED =
  'Delete that checkpoint folder and use an earlier one (another checkpoints/step-* folder of the run), or save it again.';

/**
 * A checkpoint that cannot be loaded: missing, corrupted, or not matching its own config. The message is one
 * line: the checkpoint, `problem` (which file and why), and for a `damaged` one what to do.
 */
export class CheckpointError extends TurngymError {
  /** A file is missing, cut short or corrupted (rather than a checkpoint this turngym cannot use). */
  readonly damaged: boolean;

  constructor(
    readonly directory: string,
    readonly problem: string,
    options: { cause?: unknown; damaged?: boolean } = {},
  ) {
    super(
      'BAD_CHECKPOINT',
      `Cannot load the checkpoint ${directory}: ${problem}${options.damaged ? ` ${DAMAGED}` : ''}`,
      options,
    );
    this.name = 'CheckpointError';
    this.damaged = options.damaged ?? false;
  }
}

interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
}

interface Manifest {
  tensors: TensorEntry[];
  bytes: number;
  sha256: string;
  step?: number;
}

/** Saves a policy (weights, optimizer state, tokenizer, config) into `directory`, creating it. */
export async function saveCheckpoint(
  policy: Policy,
  directory: string,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  await mkdir(directory, { recursive: true });
  const weights = [...policy.model.variables].map(([name, variable]) => ({
    name,
    shape: variable.shape,
    values: variable.dataSync() as Float32Array,
  }));
  const optimizer = policy.optimizer.state();
  const config = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: policy.config,
    optimizer: policy.optimizer.config,
    maxActionTokens: policy.maxActionTokens,
    tokenizer: { vocabSize: policy.tokenizer.vocabSize, sha256: policy.tokenizer.fingerprint() },
    metadata,
  };
  await writeTensors(directory, 'weights', weights);
  await writeTensors(directory, 'optimizer', optimizer.tensors, optimizer.step);
  await writeAtomic(join(directory, 'tokenizer.json'), JSON.stringify(policy.tokenizer.toJSON()));
  // config.json last: a directory with a config is complete.
  await writeAtomic(join(directory, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

/** Reads a checkpoint's config.json (what `turngym eval` prints about a checkpoint). */
export async function readCheckpointConfig(directory: string) {
  const raw = await readJson(directory, 'config.json');
  const config = raw as {
    format?: unknown;
    version?: unknown;
    model?: unknown;
    optimizer?: unknown;
    maxActionTokens?: unknown;
    tokenizer?: { vocabSize?: unknown; sha256?: unknown };
    metadata?: Record<string, unknown>;
  };
  if (config.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(
      directory,
      `config.json is not a turngym policy config (format is ${JSON.stringify(config.format)}, expected "${CHECKPOINT_FORMAT}").`,
    );
  if (config.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(
      directory,
      `config.json has version ${JSON.stringify(config.version)}; this turngym reads version ${CHECKPOINT_VERSION}.`,
    );
  const model = modelConfigSchema.safeParse(config.model);
  if (!model.success)
    throw new CheckpointError(
      directory,
      `config.json has an invalid model config: ${model.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}.`,
    );
  const optimizer = optimizerConfigSchema.safeParse(config.optimizer ?? {});
  if (!optimizer.success) throw new CheckpointError(directory, 'config.json has an invalid optimizer config.');
  const maxActionTokens = config.maxActionTokens;
  if (typeof maxActionTokens !== 'number' || !Number.isInteger(maxActionTokens) || maxActionTokens < 1)
    throw new CheckpointError(directory, 'config.json has no valid maxActionTokens.');
  return {
    model: model.data,
    optimizer: optimizer.data,
    maxActionTokens,
    tokenizer: config.tokenizer ?? {},
    metadata: config.metadata ?? {},
  };
}

/** Loads a policy saved by {@link saveCheckpoint}. Call `initBackend` first. */
export async function loadCheckpoint(directory: string): Promise<Policy> {
  const config = await readCheckpointConfig(directory);
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(await readJson(directory, 'tokenizer.json'));
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(directory, `tokenizer.json is invalid: ${describeError(error)}`);
  }
  if (tokenizer.fingerprint() !== config.tokenizer.sha256 || tokenizer.vocabSize !== config.model.vocabSize) {
    throw new CheckpointError(
      directory,
      `tokenizer.json does not match config.json (vocabulary ${tokenizer.vocabSize} vs ${config.model.vocabSize}, or a different fingerprint): the files come from different checkpoints.`,
    );
  }
  const expected = parameterShapes(config.model);
  const weights = await readTensors(directory, 'weights');
  const byName = new Map(weights.tensors.map((tensor) => [tensor.name, tensor]));
  for (const [name, shape] of expected) {
    const saved = byName.get(name);
    if (!saved)
      throw new CheckpointError(directory, `weights.json has no tensor '${name}', which the model config needs.`);
    if (saved.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(
        directory,
        `weights '${name}' have shape [${saved.shape}] but the model config needs [${shape}]: the weights and config.json do not match.`,
      );
    }
  }
  if (weights.tensors.length !== expected.length)
    throw new CheckpointError(
      directory,
      `weights.json has ${weights.tensors.length} tensors; the model config needs ${expected.length}.`,
    );
  const model = new TransformerModel(config.model);
  tf.tidy(() => {
    for (const [name, variable] of model.variables) {
      const saved = byName.get(name)!;
      variable.assign(tf.tensor(saved.values, saved.shape));
    }
  });
  const optimizer = new AdamW(config.optimizer);
  const optimizerState = await readTensors(directory, 'optimizer', true);
  if (optimizerState) {
    try {
      optimizer.load(model.variables, { step: optimizerState.step ?? 0, tensors: optimizerState.tensors });
    } catch (error) {
      model.dispose();
      throw new CheckpointError(directory, `optimizer state does not match the model: ${describeError(error)}`);
    }
  }
  return new Policy(tokenizer, model, optimizer, config.maxActionTokens);
}

async function writeTensors(
  directory: string,
  stem: string,
  tensors: { name: string; shape: number[]; values: Float32Array }[],
  step?: number,
): Promise<void> {
  const total = tensors.reduce((sum, tensor) => sum + tensor.values.length, 0);
  const buffer = Buffer.alloc(total * 4);
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const tensor of tensors) {
    entries.push({ name: tensor.name, shape: tensor.shape, offset });
    for (let i = 0; i < tensor.values.length; i++) buffer.writeFloatLE(tensor.values[i]!, offset + i * 4);
    offset += tensor.values.length * 4;
  }
  const manifest: Manifest = {
    tensors: entries,
    bytes: buffer.length,
    sha256: createHash('sha256').update(buffer).digest('hex'),
    ...(step !== undefined ? { step } : {}),
  };
  await writeAtomic(join(directory, `${stem}.bin`), buffer);
  await writeAtomic(join(directory, `${stem}.json`), `${JSON.stringify(manifest)}\n`);
}

async function readTensors(
  directory: string,
  stem: string,
): Promise<{ tensors: { name: string; shape: number[]; values: Float32Array }[]; step?: number }>;
async function readTensors(
  directory: string,
  stem: string,
  optional: true,
): Promise<{ tensors: { name: string; shape: number[]; values: Float32Array }[]; step?: number } | undefined>;
async function readTensors(
  directory: string,
  stem: string,
  optional = false,
): Promise<{ tensors: { name: string; shape: number[]; values: Float32Array }[]; step?: number } | undefined> {
  let manifestText: string;
  try {
    manifestText = await readFile(join(directory, `${stem}.json`), 'utf8');
  } catch (error) {
    if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw missing(directory, `${stem}.json`, error);
  }
  const manifest = parseJson(directory, `${stem}.json`, manifestText) as Partial<Manifest>;
  if (!Array.isArray(manifest.tensors) || typeof manifest.bytes !== 'number' || typeof manifest.sha256 !== 'string') {
    throw new CheckpointError(directory, `${stem}.json is not a tensor manifest (expected tensors, bytes, sha256).`, {
      damaged: true,
    });
  }
  let buffer: Buffer;
  try {
    buffer = await readFile(join(directory, `${stem}.bin`));
  } catch (error) {
    throw missing(directory, `${stem}.bin`, error);
  }
  if (buffer.length !== manifest.bytes) {
    throw new CheckpointError(
      directory,
      `${stem}.bin has ${buffer.length} bytes but ${stem}.json says ${manifest.bytes}: the file is truncated or corrupted.`,
      { damaged: true },
    );
  }
  if (createHash('sha256').update(buffer).digest('hex') !== manifest.sha256) {
    throw new CheckpointError(directory, `${stem}.bin is corrupted: its SHA-256 does not match ${stem}.json.`, {
      damaged: true,
    });
  }
  const tensors = manifest.tensors.map((entry) => {
    const size = entry.shape.reduce((product, dimension) => product * dimension, 1);
    if (!Number.isInteger(entry.offset) || entry.offset < 0 || entry.offset + size * 4 > buffer.length) {
      throw new CheckpointError(directory, `${stem}.json places '${entry.name}' outside ${stem}.bin.`, {
        damaged: true,
      });
    }
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = buffer.readFloatLE(entry.offset + i * 4);
    return { name: entry.name, shape: entry.shape, values };
  });
  return { tensors, step: manifest.step };
}

async function readJson(directory: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(directory, file), 'utf8');
  } catch (error) {
    throw missing(directory, file, error);
  }
  return parseJson(directory, file, text);
}

function parseJson(directory: string, file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(directory, `${file} is truncated or not JSON (${describeError(error)}).`, {
      damaged: true,
    });
  }
}

function missing(directory: string, file: string, error: unknown): CheckpointError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new CheckpointError(
      directory,
      `${file} is missing. A checkpoint directory holds config.json, tokenizer.json, weights.json and weights.bin (written by \`turngym sft\`, \`turngym train\` or saveCheckpoint).`,
      { damaged: existsSync(directory) },
    );
  }
  return new CheckpointError(directory, `${file} could not be read: ${describeError(error)}`, { cause: error });
}

/** Writes through a temporary file and a rename, so a crash never leaves a half-written file. */
async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const temporary = `${path}.partial`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}
