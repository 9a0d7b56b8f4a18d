import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../src/rl/metrics.js';
import { FILE_VERSION, TensorBoardWriter, crc32c, eventsUpTo, maskedCrc32c } from '../../src/rl/tensorboard.js';
import { fixtureRoot } from './run-fixture.js';

/** An independent reader of TFRecord framing: checks both CRCs of every record. */
function readRecords(bytes: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = Number(bytes.readBigUInt64LE(offset));
    const lengthCrc = bytes.readUInt32LE(offset + 8);
    expect(lengthCrc, `length CRC of the record at byte ${offset}`).toBe(
      referenceMaskedCrc(bytes.subarray(offset, offset + 8)),
    );
    const data = bytes.subarray(offset + 12, offset + 12 + length);
    expect(bytes.readUInt32LE(offset + 12 + length), `data CRC of the record at byte ${offset}`).toBe(
      referenceMaskedCrc(data),
    );
    records.push(data);
    offset += 12 + length + 4;
  }
  expect(offset).toBe(bytes.length);
  return records;
}

/** CRC-32C computed bit by bit (no table), so the test does not share the writer's code. */
function referenceMaskedCrc(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  crc = (crc ^ 0xffffffff) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

type Field = { field: number; wireType: number; value: bigint | Buffer };

/** A generic protobuf decoder: every field with its wire type. */
function decodeMessage(bytes: Buffer): Field[] {
  const fields: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = bytes[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (offset < bytes.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wireType = key & 7;
    if (wireType === 0) fields.push({ field, wireType, value: varint() });
    else if (wireType === 1) fields.push({ field, wireType, value: bytes.subarray(offset, (offset += 8)) });
    else if (wireType === 5) fields.push({ field, wireType, value: bytes.subarray(offset, (offset += 4)) });
    else if (wireType === 2) {
      const length = Number(varint());
      fields.push({ field, wireType, value: bytes.subarray(offset, (offset += length)) });
    } else throw new Error(`unexpected wire type ${wireType}`);
  }
  return fields;
}

interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: Record<string, number>;
}

/** Decodes an Event as event.proto defines it (wall_time 1, step 2, file_version 3, summary 5). */
function decodeEvent(data: Buffer): DecodedEvent {
  const event: DecodedEvent = { wallTime: Number.NaN, step: 0, values: {} };
  for (const { field, wireType, value } of decodeMessage(data)) {
    if (field === 1 && wireType === 1) event.wallTime = (value as Buffer).readDoubleLE(0);
    else if (field === 2 && wireType === 0) event.step = Number(BigInt.asIntN(64, value as bigint));
    else if (field === 3 && wireType === 2) event.fileVersion = (value as Buffer).toString('utf8');
    else if (field === 5 && wireType === 2) {
      for (const summaryField of decodeMessage(value as Buffer)) {
        expect(summaryField).toMatchObject({ field: 1, wireType: 2 });
        let tag = '';
        let simpleValue = Number.NaN;
        for (const valueField of decodeMessage(summaryField.value as Buffer)) {
          if (valueField.field === 1) tag = (valueField.value as Buffer).toString('utf8');
          if (valueField.field === 2 && valueField.wireType === 5)
            simpleValue = (valueField.value as Buffer).readFloatLE(0);
        }
        event.values[tag] = simpleValue;
      }
    } else throw new Error(`unexpected Event field ${field} (wire type ${wireType})`);
  }
  return event;
}

const root = fixtureRoot();
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('crc32c', () => {
  it('matches the iSCSI test vectors (RFC 3720, B.4)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, index) => index))).toBe(0x46dd794e);
  });

  it('masks as TFRecord does', () => {
    const data = new TextEncoder().encode('turngym');
    expect(maskedCrc32c(data)).toBe(referenceMaskedCrc(data));
  });
});

describe('TensorBoardWriter', () => {
  it('writes a file-version event, then one event of scalars per step, that decode back', () => {
    const dir = join(root, 'tensorboard');
    const writer = new TensorBoardWriter(dir);
    const steps = [0, 1, 2, 250, 3_000_000_000];
    for (const step of steps) {
      writer.scalars(
        step,
        {
          step,
          time: 12.5,
          [METRICS.successRate]: step / 4,
          [METRICS.entropy]: 1.25 - step / 1000,
          [METRICS.ppoKl]: null,
          [METRICS.covMean]: Number.NaN,
          note: 'not a number',
        },
        1_700_000_000.25 + step,
      );
    }
    writer.close();
    writer.close();
    expect(() => writer.scalars(9, { a: 1 })).toThrow('is closed');

    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\.[\w.-]+\.\d+\.\d+$/);
    const events = readRecords(readFileSync(join(dir, files[0]!))).map(decodeEvent);
    expect(events).toHaveLength(1 + steps.length);
    expect(events[0]).toMatchObject({ fileVersion: FILE_VERSION, step: 0, values: {} });
    expect(events[0]!.wallTime).toBeGreaterThan(1_600_000_000);
    steps.forEach((step, index) => {
      const event = events[index + 1]!;
      expect(event.step).toBe(step);
      expect(event.wallTime).toBe(1_700_000_000.25 + step);
      expect(Object.keys(event.values).sort()).toEqual([METRICS.entropy, METRICS.successRate].sort());
      // simple_value is a 32-bit float.
      expect(event.values[METRICS.successRate]).toBe(Math.fround(step / 4));
      expect(event.values[METRICS.entropy]).toBe(Math.fround(1.25 - step / 1000));
    });
  });

  it('skips a step with no numeric value and keeps writers in one directory apart', () => {
    const dir = join(root, 'two-writers');
    const first = new TensorBoardWriter(dir);
    const second = new TensorBoardWriter(dir);
    first.scalars(1, { step: 1, time: 2 });
    second.scalars(1, { 'charts/success_rate': 0.5 });
    first.close();
    second.close();
    expect(first.path).not.toBe(second.path);
    expect(readRecords(readFileSync(first.path))).toHaveLength(1);
    expect(readRecords(readFileSync(second.path)).map(decodeEvent)[1]!.values).toEqual({ 'charts/success_rate': 0.5 });
    expect(existsSync(dir)).toBe(true);
  });

  it('cuts an event file back to a step, and drops a last record cut short (what a resumed run keeps)', () => {
    const writer = new TensorBoardWriter(join(root, 'resumed'));
    for (let step = 1; step <= 5; step++) writer.scalars(step, { [METRICS.successRate]: step / 10 });
    writer.close();
    const whole = readFileSync(writer.path);
    // What a kill in the middle of writing one more event leaves: the first bytes of its record (here a copy of the last one's).
    const last = 12 + readRecords(whole).pop()!.length + 4;
    const torn = Buffer.concat([whole, whole.subarray(whole.length - last, whole.length - last + 20)]);
    const cut = eventsUpTo(torn, 3);
    expect(cut.dropped).toBe(3); // steps 4 and 5, and the torn record
    expect(
      readRecords(cut.kept)
        .map(decodeEvent)
        .map((event) => [event.step, event.fileVersion]),
    ).toEqual([
      [0, FILE_VERSION],
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ]);
    expect(eventsUpTo(whole, 5)).toEqual({ kept: whole, dropped: 0 });
  });
});
