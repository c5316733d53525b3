/**
 * Unit tests of the archive format without a server (client/src/archive/format.ts, records.ts): a
 * round trip of every record kind, the wrong password, and every way a file can be damaged
 * (truncated inside a chunk and at a chunk boundary, chunks reordered, dropped or swapped in from
 * another archive, a flipped byte, appended bytes, a foreign file), plus flat memory while streaming.
 * Small chunks (1 KiB) give many chunks cheaply; each archive costs one PBKDF2 run (~0.5 s).
 */
import { describe, expect, it } from 'vitest';
import { WrongPasswordError } from '../src/index.ts';
import {
  ArchiveIntegrityError, HEADER_BYTES, newArchiveHeader, openArchive, sealArchive, TAG_BYTES,
} from '../src/archive/format.ts';
import { ArchiveRecordReader, encodeJson, encodeLog, encodeRecord, RecordType } from '../src/archive/records.ts';
import { utf8, fromUtf8 } from '../src/encoding.ts';

const PASSWORD = 'correct horse battery staple';
const CHUNK = 1024;

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  return new Uint8Array(Buffer.concat(parts)); // a copy: Buffer#slice would share memory
}

async function* iterate(records: Uint8Array[]) { yield* records; }

const manifest = (logs: number, files: number, fileBytes: number) => encodeJson(RecordType.Manifest, {
  format: 1, createdAt: '2026-12-06T00:00:00.000Z', source: { vaultId: crypto.randomUUID(), lastSequence: logs, keyGeneration: 1 },
  expected: { logs, files, fileBytes },
});
const log = (i: number) => encodeLog({ id: crypto.randomUUID(), haexTimestamp: `hlc-${i}`, recordKey: null, createdAt: 'now', sequence: i + 1 },
  JSON.stringify({ i, text: 'x'.repeat(200) }));

/** A valid archive of `logs` logs and one file of `fileBytes` bytes. */
async function archive(logs = 20, fileBytes = 3000, password = PASSWORD): Promise<Uint8Array> {
  const file = new Uint8Array(fileBytes).map((_, i) => i % 251);
  const records = [manifest(logs, 1, fileBytes), ...Array.from({ length: logs }, (_, i) => log(i)),
    encodeJson(RecordType.File, { fileId: crypto.randomUUID(), size: fileBytes, createdAt: 'now' }),
    encodeRecord(RecordType.FileData, file.subarray(0, 1000)), encodeRecord(RecordType.FileData, file.subarray(1000)),
    encodeJson(RecordType.End, { logs, files: 1, fileBytes })];
  const { header, keys } = await newArchiveHeader(password, CHUNK);
  return collect(sealArchive(header, keys, iterate(records)));
}

/** Opens and reads every item; resolves the counts of the end record. */
async function readAll(data: Uint8Array | Blob | ReadableStream<Uint8Array>, password = PASSWORD) {
  const { chunks } = await openArchive(data, password);
  const reader = new ArchiveRecordReader(chunks);
  const m = await reader.manifest();
  const logs: string[] = [];
  const files: Uint8Array[] = [];
  for await (const item of reader.items()) {
    if (item.kind === 'log') logs.push(fromUtf8(item.log.data));
    if (item.kind === 'file') {
      const parts: Uint8Array[] = [];
      for await (const p of item.data()) parts.push(p);
      files.push(Buffer.concat(parts));
    }
    if (item.kind === 'end') return { manifest: m, logs, files, counts: item.counts };
  }
  throw new Error('no end');
}

const chunkBytes = CHUNK + TAG_BYTES;
const chunkAt = (a: Uint8Array, i: number) => a.slice(HEADER_BYTES + i * chunkBytes, HEADER_BYTES + (i + 1) * chunkBytes);
const integrity = async (promise: Promise<unknown>, reason: string) => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ArchiveIntegrityError);
  expect((error as ArchiveIntegrityError).reason).toBe(reason);
};

describe('archive format', () => {
  it('round trip: every log and the file come back byte for byte, from a Uint8Array, a Blob and a stream', async () => {
    const bytes = await archive(20, 3000);
    expect(bytes.length).toBeGreaterThan(HEADER_BYTES + 4 * chunkBytes); // several chunks
    for (const input of [bytes, new Blob([bytes as Uint8Array<ArrayBuffer>]), new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()]) {
      const read = await readAll(input);
      expect(read.counts).toEqual({ logs: 20, files: 1, fileBytes: 3000 });
      expect(read.logs.map((l) => JSON.parse(l).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect([...read.files[0]!]).toEqual([...new Uint8Array(3000).map((_, i) => i % 251)]);
    }
  });

  it('the archive holds no plaintext and starts with a header naming the vault password\'s KDF strength', async () => {
    const bytes = await archive(5, 0);
    expect(Buffer.from(bytes).includes('xxxxxxxx')).toBe(false);
    expect(fromUtf8(bytes.subarray(0, 4))).toBe('HXSA');
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(6)).toBe(600_000);
  });

  it('a wrong password is WrongPasswordError, found at the header', async () => {
    const bytes = await archive(3, 0);
    await expect(openArchive(bytes, 'not the password')).rejects.toBeInstanceOf(WrongPasswordError);
    // An altered header is indistinguishable from a wrong password.
    const altered = bytes.slice();
    altered[50]! ^= 1;
    await expect(openArchive(altered, PASSWORD)).rejects.toBeInstanceOf(WrongPasswordError);
  });

  it('truncated inside a chunk, at a chunk boundary, inside the header, or with no chunk at all', async () => {
    const bytes = await archive();
    await integrity(readAll(bytes.subarray(0, bytes.length - 7)), 'tampered');
    await integrity(readAll(bytes.subarray(0, HEADER_BYTES + 3 * chunkBytes)), 'truncated');
    await integrity(readAll(bytes.subarray(0, HEADER_BYTES)), 'truncated');
    await integrity(readAll(bytes.subarray(0, 40)), 'truncated');
  });

  it('reordered, dropped and foreign chunks fail authentication', async () => {
    const bytes = await archive();
    const swapped = Buffer.concat([bytes.subarray(0, HEADER_BYTES), chunkAt(bytes, 1), chunkAt(bytes, 0), bytes.subarray(HEADER_BYTES + 2 * chunkBytes)]);
    await integrity(readAll(swapped), 'tampered');
    const dropped = Buffer.concat([bytes.subarray(0, HEADER_BYTES + chunkBytes), bytes.subarray(HEADER_BYTES + 2 * chunkBytes)]);
    await integrity(readAll(dropped), 'tampered');
    const other = await archive(); // same password, another archive: its chunk does not fit here
    const foreign = Buffer.concat([bytes.subarray(0, HEADER_BYTES), chunkAt(other, 0), bytes.subarray(HEADER_BYTES + chunkBytes)]);
    await integrity(readAll(foreign), 'tampered');
  });

  it('a flipped byte in any chunk, and bytes appended after the last chunk', async () => {
    const bytes = await archive();
    for (const at of [HEADER_BYTES, HEADER_BYTES + chunkBytes + 500, bytes.length - 1]) {
      const flipped = bytes.slice();
      flipped[at]! ^= 0x40;
      await integrity(readAll(flipped), 'tampered');
    }
    await integrity(readAll(Buffer.concat([bytes, new Uint8Array([0])])), 'tampered');
    // An exact multiple of the chunk size followed by extra bytes: the real last chunk is followed by data.
    const { header, keys } = await newArchiveHeader(PASSWORD, CHUNK);
    const exact = await collect(sealArchive(header, keys, iterate([encodeRecord(RecordType.FileData, new Uint8Array(CHUNK - 5))])));
    await integrity(readAll(Buffer.concat([exact, new Uint8Array(10)])), 'trailing_data');
  });

  it('a foreign file (a files header, random bytes, an empty file) is not_an_archive', async () => {
    await integrity(openArchive(utf8('HXF1\u0001 not an archive'), PASSWORD), 'not_an_archive');
    await integrity(openArchive(crypto.getRandomValues(new Uint8Array(500)), PASSWORD), 'not_an_archive');
    await integrity(openArchive(new Uint8Array(0), PASSWORD), 'not_an_archive');
    const future = (await archive(1, 0)).slice();
    future[4] = 2;
    await integrity(openArchive(future, PASSWORD), 'unsupported_version');
  });

  it('authenticated content out of order is malformed: a log after a file, counts that do not match, no end record', async () => {
    const { header, keys } = await newArchiveHeader(PASSWORD, CHUNK);
    const seal = (records: Uint8Array[]) => collect(sealArchive(header, keys, iterate(records)));
    const file = encodeJson(RecordType.File, { fileId: crypto.randomUUID(), size: 0, createdAt: 'now' });
    await integrity(readAll(await seal([manifest(1, 1, 0), file, log(0), encodeJson(RecordType.End, { logs: 1, files: 1, fileBytes: 0 })])), 'malformed');
    await integrity(readAll(await seal([manifest(2, 0, 0), log(0), encodeJson(RecordType.End, { logs: 2, files: 0, fileBytes: 0 })])), 'malformed');
    await integrity(readAll(await seal([manifest(1, 0, 0), log(0)])), 'malformed');
  });

  it('memory stays flat: 128 MiB of file data sealed and opened as streams grows RSS by less than half of it', async () => {
    const size = 128 * 1024 * 1024;
    const piece = new Uint8Array(256 * 1024).fill(7);
    async function* records() {
      yield manifest(0, 1, size);
      yield encodeJson(RecordType.File, { fileId: crypto.randomUUID(), size, createdAt: 'now' });
      for (let at = 0; at < size; at += piece.length) yield encodeRecord(RecordType.FileData, piece);
      yield encodeJson(RecordType.End, { logs: 0, files: 1, fileBytes: size });
    }
    const { header, keys } = await newArchiveHeader(PASSWORD);
    const stream = sealArchive(header, keys, records());
    const before = process.memoryUsage().rss;
    let peak = before;
    let seen = 0;
    const { chunks } = await openArchive(stream, PASSWORD);
    const reader = new ArchiveRecordReader(chunks);
    await reader.manifest();
    for await (const item of reader.items()) {
      if (item.kind !== 'file') continue;
      for await (const p of item.data()) {
        seen += p.length;
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
    expect(seen).toBe(size);
    expect(peak - before).toBeLessThan(size / 2);
  });
});
