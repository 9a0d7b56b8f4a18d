/**
 * TensorBoard event files written by hand, so `tensorboard --logdir runs/` can plot a run without
 * TensorFlow: no maintained JavaScript writer installs here, and the format is small.
 *
 * An event file (`events.out.tfevents.<time>.<host>.<pid>.<n>`) is a sequence of TFRecords:
 *
 *   uint64 length (little-endian) | uint32 masked CRC32C of the length bytes | data | uint32 masked CRC32C of data
 *
 * where the mask is `((crc >>> 15) | (crc << 17)) + 0xa282ead8`. Each record's data is an `Event` protobuf
 * (tensorflow/core/util/event.proto): `wall_time` (1, double), `step` (2, int64), and either `file_version`
 * (3, string; the first record, "brain.Event:2") or `summary` (5, message). A `Summary` holds repeated
 * `value` (1) messages, each with a `tag` (1, string) and a `simple_value` (2, float): a scalar.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The file-version string TensorBoard expects in the first event. */
export const FILE_VERSION = 'brain.Event:2';

/** How the name of every event file starts (TensorBoard finds a run's files by it). */
export const EVENT_FILE_PREFIX = 'events.out.tfevents.';

/** Writes scalar summaries to a TensorBoard event file, one event per training step. */
export class TensorBoardWriter {
  /** Path of the event file. */
  readonly path: string;
  private descriptor: number | undefined;
  private static sequence = 0;

  /**
   * Creates `dir` if needed and a new event file in it, starting with the file-version event.
   * @param dir directory TensorBoard is pointed at (e.g. the run directory).
   */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    const host = hostname().replace(/[^\w.-]/g, '_') || 'localhost';
    this.path = join(
      dir,
      `${EVENT_FILE_PREFIX}${Math.floor(Date.now() / 1000)}.${host}.${process.pid}.${TensorBoardWriter.sequence++}`,
    );
    this.descriptor = openSync(this.path, 'a');
    this.writeEvent(encodeEvent({ wallTime: Date.now() / 1000, step: 0, fileVersion: FILE_VERSION }));
  }

  /**
   * Writes one event at `step` with a scalar per finite number in `record` (tagged by its key, e.g.
   * `charts/success_rate`). `step` and `time` keys (as in a metrics record) are not written as scalars;
   * null, NaN and infinite values are left out. Written synchronously, so a crash loses nothing written.
   */
  scalars(step: number, record: Record<string, unknown>, wallTime = Date.now() / 1000): void {
    const values: { tag: string; value: number }[] = [];
    for (const [tag, value] of Object.entries(record)) {
      if (tag === 'step' || tag === 'time') continue;
      if (typeof value === 'number' && Number.isFinite(value)) values.push({ tag, value });
    }
    if (values.length === 0) return;
    this.writeEvent(encodeEvent({ wallTime, step, summary: values }));
  }

  /** Closes the file; later calls to `scalars` throw. Idempotent. */
  close(): void {
    if (this.descriptor === undefined) return;
    closeSync(this.descriptor);
    this.descriptor = undefined;
  }

  private writeEvent(data: Uint8Array): void {
    if (this.descriptor === undefined) throw new Error(`The TensorBoard writer for ${this.path} is closed.`);
    writeSync(this.descriptor, frameRecord(data));
  }
}

/**
 * The events of an event file, each with its step and its framed bytes, in file order. Reading stops at a
 * record cut short or whose CRCs do not match (what a process killed while writing leaves at the end):
 * `torn` says that happened.
 */
export function readEvents(bytes: Uint8Array): { events: { step: number; record: Buffer }[]; torn: boolean } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: { step: number; record: Buffer }[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    if (
      offset + 12 > buffer.length ||
      buffer.readUInt32LE(offset + 8) !== maskedCrc32c(buffer.subarray(offset, offset + 8))
    )
      return { events, torn: true };
    const end = offset + 12 + Number(buffer.readBigUInt64LE(offset));
    if (end + 4 > buffer.length) return { events, torn: true };
    const data = buffer.subarray(offset + 12, end);
    if (buffer.readUInt32LE(end) !== maskedCrc32c(data)) return { events, torn: true };
    events.push({ step: eventStep(data), record: buffer.subarray(offset, end + 4) });
    offset = end + 4;
  }
  return { events, torn: false };
}

/**
 * An event file without the events after `lastStep` (and without a record cut short at its end): what a
 * resumed run keeps, so that the steps it writes again are not in TensorBoard twice. `dropped` counts the
 * records left out.
 */
export function eventsUpTo(bytes: Uint8Array, lastStep: number): { kept: Buffer; dropped: number } {
  const { events, torn } = readEvents(bytes);
  const kept = events.filter((event) => event.step <= lastStep);
  return {
    kept: Buffer.concat(kept.map((event) => event.record)),
    dropped: events.length - kept.length + (torn ? 1 : 0),
  };
}

/** The `step` (field 2) of an encoded `Event`; 0 when absent, as protobuf reads it. */
function eventStep(data: Uint8Array): number {
  let offset = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; offset < data.length; shift += 7n) {
      const byte = data[offset++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
    }
    return value;
  };
  let step = 0;
  while (offset < data.length) {
    const key = Number(varint());
    const wireType = key & 7;
    if (wireType === 0) {
      const value = varint();
      if (key >> 3 === 2) step = Number(BigInt.asIntN(64, value));
    } else if (wireType === 1) offset += 8;
    else if (wireType === 5) offset += 4;
    else if (wireType === 2) offset += Number(varint());
    else break; // not a wire type an Event uses
  }
  return step;
}

/** One event to encode: a file-version event or a summary of scalars. */
export interface EventFields {
  wallTime: number;
  step: number;
  fileVersion?: string;
  summary?: { tag: string; value: number }[];
}

/** Encodes an `Event` protobuf. */
export function encodeEvent(event: EventFields): Uint8Array {
  const out = new ProtoWriter();
  out.double(1, event.wallTime);
  if (event.step !== 0) out.varintField(2, BigInt(Math.trunc(event.step)));
  if (event.fileVersion !== undefined) out.bytes(3, new TextEncoder().encode(event.fileVersion));
  if (event.summary) {
    const summary = new ProtoWriter();
    for (const { tag, value } of event.summary) {
      const entry = new ProtoWriter();
      entry.bytes(1, new TextEncoder().encode(tag));
      entry.float(2, value);
      summary.bytes(1, entry.finish());
    }
    out.bytes(5, summary.finish());
  }
  return out.finish();
}

/** Frames data as a TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(8 + 4 + data.length + 4);
  record.writeBigUInt64LE(BigInt(data.length), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return record;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    let crc = index;
    // 0x82f63b78: the Castagnoli polynomial, bit-reversed.
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[index] = crc >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) of `data`, as TFRecord uses. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The masked CRC TFRecord stores (masking keeps CRCs of data that contains CRCs well distributed). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** A minimal protobuf writer: the wire types an Event needs (varint, 64-bit, length-delimited, 32-bit). */
class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];

  double(field: number, value: number): void {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(value);
    this.tag(field, 1);
    this.chunks.push(bytes);
  }

  float(field: number, value: number): void {
    const bytes = Buffer.alloc(4);
    bytes.writeFloatLE(value);
    this.tag(field, 5);
    this.chunks.push(bytes);
  }

  varintField(field: number, value: bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, 2);
    this.varint(BigInt(value.length));
    this.chunks.push(value);
  }

  finish(): Uint8Array {
    return Buffer.concat(this.chunks);
  }

  private tag(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  private varint(value: bigint): void {
    // int64 fields encode negative numbers as their 64-bit two's complement (10 bytes).
    let remaining = BigInt.asUintN(64, value);
    const bytes: number[] = [];
    do {
      let byte = Number(remaining & 0x7fn);
      remaining >>= 7n;
      if (remaining !== 0n) byte |= 0x80;
      bytes.push(byte);
    } while (remaining !== 0n);
    this.chunks.push(Uint8Array.from(bytes));
  }
}
