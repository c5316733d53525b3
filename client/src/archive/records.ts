/**
 * The records inside an archive's payload (format.ts decrypts the chunks; docs/export.md):
 *
 *   record    = type (u8) | body length (u32 BE) | body      records run across chunk boundaries
 *   0x01 MANIFEST   JSON { format: 1, createdAt, source: { vaultId, lastSequence, keyGeneration },
 *                          expected: { logs, files, fileBytes } }       first record, exactly once
 *   0x02 LOG        meta length (u16 BE) | meta JSON { id, haexTimestamp, recordKey (string|null),
 *                   createdAt, sequence } | the change's data as UTF-8 JSON (as the device applied it)
 *   0x03 FILE       JSON { fileId, size, createdAt }, followed by FILE_DATA records holding exactly
 *                   `size` bytes of the file's plaintext (none for an empty file)
 *   0x04 FILE_DATA  1..1 MiB of plaintext of the current file
 *   0x05 END        JSON { logs, files, fileBytes }: the counts written; the last record
 *
 * Order: MANIFEST, LOG*, (FILE FILE_DATA*)*, END; nothing after END (format.ts makes sure END's chunk
 * is the last). A body is at most MAX_RECORD_BODY bytes, so a reader holds at most one record. The
 * manifest's `expected` counts are for progress only (logs may be compacted or pushed while an export
 * runs); END's counts are what a reader must have seen. Any other shape: ArchiveIntegrityError
 * `malformed` (content that authenticated, so written by someone with the password, but not ours).
 */
import { ArchiveIntegrityError } from './format.ts';
import { fromUtf8, isCanonicalUuid, utf8 } from '../encoding.ts';

export const RecordType = { Manifest: 1, Log: 2, File: 3, FileData: 4, End: 5 } as const;
export type RecordType = typeof RecordType[keyof typeof RecordType];
export const MAX_RECORD_BODY = 1024 * 1024 + 64 * 1024;
export const FILE_DATA_PIECE = 256 * 1024;

export interface Manifest {
  format: 1;
  createdAt: string;
  source: { vaultId: string; lastSequence: number; keyGeneration: number };
  expected: { logs: number; files: number; fileBytes: number };
}
export interface ArchivedLog {
  id: string;
  haexTimestamp: string;
  recordKey: string | null;
  createdAt: string;
  sequence: number;
  /** The change's data as UTF-8 JSON text. */
  data: Uint8Array;
}
export interface ArchivedFile { fileId: string; size: number; createdAt: string }
export interface Counts { logs: number; files: number; fileBytes: number }

const malformed = (detail: string) => new ArchiveIntegrityError('malformed', detail);

export function encodeRecord(type: RecordType, body: Uint8Array): Uint8Array {
  if (body.length > MAX_RECORD_BODY) throw new RangeError('record body too large');
  const out = new Uint8Array(5 + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

export const encodeJson = (type: RecordType, value: unknown) => encodeRecord(type, utf8(JSON.stringify(value)));

export function encodeLog(log: Omit<ArchivedLog, 'data'>, dataJson: string): Uint8Array {
  const meta = utf8(JSON.stringify({ id: log.id, haexTimestamp: log.haexTimestamp, recordKey: log.recordKey, createdAt: log.createdAt,
    sequence: log.sequence }));
  const data = utf8(dataJson);
  const length = 2 + meta.length + data.length;
  if (length > MAX_RECORD_BODY) throw new RangeError('record body too large');
  // One allocation for the whole record (logs are many: less garbage per log).
  const out = new Uint8Array(5 + length);
  const view = new DataView(out.buffer);
  out[0] = RecordType.Log;
  view.setUint32(1, length);
  view.setUint16(5, meta.length);
  out.set(meta, 7);
  out.set(data, 7 + meta.length);
  return out;
}

/** Splits the chunks' plaintexts back into records (at most one record buffered). */
async function* splitRecords(chunks: AsyncIterator<Uint8Array>): AsyncGenerator<{ type: number; body: Uint8Array }> {
  let pending: Uint8Array = new Uint8Array(0);
  const fill = async (n: number): Promise<boolean> => {
    while (pending.length < n) {
      const { done, value } = await chunks.next();
      if (done) return false;
      const joined = new Uint8Array(pending.length + value.length);
      joined.set(pending);
      joined.set(value, pending.length);
      pending = joined;
    }
    return true;
  };
  for (;;) {
    if (!(await fill(1))) return;
    if (!(await fill(5))) throw malformed('the payload ends inside a record header');
    const type = pending[0]!;
    const length = new DataView(pending.buffer, pending.byteOffset, pending.byteLength).getUint32(1);
    if (length > MAX_RECORD_BODY) throw malformed(`a record of ${length} bytes (at most ${MAX_RECORD_BODY})`);
    if (!(await fill(5 + length))) throw malformed('the payload ends inside a record');
    const body = pending.subarray(5, 5 + length); // a view: the buffer is never written again (fill joins into a new one)
    pending = pending.subarray(5 + length);
    yield { type, body };
  }
}

function json(body: Uint8Array, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(fromUtf8(body)) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch { /* below */ }
  throw malformed(`${what} is not a JSON object`);
}
const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const text = (v: unknown) => typeof v === 'string';

function parseCounts(value: Record<string, unknown> | undefined, what: string): Counts {
  if (!value || !count(value.logs) || !count(value.files) || !count(value.fileBytes)) throw malformed(`${what} has no valid counts`);
  return { logs: value.logs as number, files: value.files as number, fileBytes: value.fileBytes as number };
}

export type ArchiveItem =
  | { kind: 'log'; log: ArchivedLog }
  | { kind: 'file'; file: ArchivedFile; data: () => AsyncGenerator<Uint8Array> }
  | { kind: 'end'; counts: Counts };

/**
 * Reads the records in their order, checking it and every record's shape: `manifest()` first, then
 * `items()`: logs, files (whose `data()` must be read to its end before the next item) and the end,
 * whose counts must match what was read.
 */
export class ArchiveRecordReader {
  readonly #records: AsyncGenerator<{ type: number; body: Uint8Array }>;
  #seen: Counts = { logs: 0, files: 0, fileBytes: 0 };
  constructor(chunks: AsyncIterator<Uint8Array>) {
    this.#records = splitRecords(chunks);
  }

  async #next(): Promise<{ type: number; body: Uint8Array } | undefined> {
    const { done, value } = await this.#records.next();
    return done ? undefined : value;
  }

  async manifest(): Promise<Manifest> {
    const first = await this.#next();
    if (!first || first.type !== RecordType.Manifest) throw malformed('the payload does not start with a manifest');
    const m = json(first.body, 'the manifest');
    const source = m.source as Record<string, unknown> | undefined;
    if (m.format !== 1 || !text(m.createdAt) || !source || !text(source.vaultId) || !count(source.lastSequence) || !count(source.keyGeneration)) {
      throw malformed('the manifest lacks format, createdAt or source');
    }
    return { format: 1, createdAt: m.createdAt as string, expected: parseCounts(m.expected as Record<string, unknown>, 'the manifest'),
      source: { vaultId: source.vaultId as string, lastSequence: source.lastSequence as number, keyGeneration: source.keyGeneration as number } };
  }

  async* items(): AsyncGenerator<ArchiveItem> {
    let filesStarted = false;
    let lookahead: { type: number; body: Uint8Array } | undefined;
    for (;;) {
      const record = lookahead ?? await this.#next();
      lookahead = undefined;
      if (!record) throw malformed('the payload ends without its end record');
      if (record.type === RecordType.Log) {
        if (filesStarted) throw malformed('a log after the files');
        this.#seen.logs++;
        yield { kind: 'log', log: parseLog(record.body) };
      } else if (record.type === RecordType.File) {
        filesStarted = true;
        const f = json(record.body, 'a file record');
        if (!isCanonicalUuid(f.fileId) || !count(f.size) || !text(f.createdAt)) throw malformed('a file record lacks fileId, size or createdAt');
        const file: ArchivedFile = { fileId: f.fileId, size: f.size as number, createdAt: f.createdAt as string };
        let consumed = false;
        const self = this;
        const data = async function* () {
          if (consumed) throw new RangeError('a file\'s data is read once');
          consumed = true;
          for (let left = file.size; left > 0;) {
            const piece = await self.#next();
            if (!piece || piece.type !== RecordType.FileData || piece.body.length === 0 || piece.body.length > left) {
              throw malformed(`file ${file.fileId} does not hold the ${file.size} bytes its record names`);
            }
            left -= piece.body.length;
            yield piece.body;
          }
        };
        this.#seen.files++;
        this.#seen.fileBytes += file.size;
        yield { kind: 'file', file, data };
        if (!consumed) for await (const _ of data()) { /* skip the data the consumer left */ }
      } else if (record.type === RecordType.End) {
        const counts = parseCounts(json(record.body, 'the end record'), 'the end record');
        if (counts.logs !== this.#seen.logs || counts.files !== this.#seen.files || counts.fileBytes !== this.#seen.fileBytes) {
          throw malformed(`the end record names ${JSON.stringify(counts)} but the archive held ${JSON.stringify(this.#seen)}`);
        }
        if (await this.#next()) throw malformed('records after the end record');
        yield { kind: 'end', counts };
        return;
      } else {
        throw malformed(`an unexpected record of type ${record.type}`);
      }
    }
  }
}

function parseLog(body: Uint8Array): ArchivedLog {
  if (body.length < 2) throw malformed('a log record is too short');
  const metaLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint16(0);
  if (body.length < 2 + metaLength) throw malformed('a log record is too short for its metadata');
  const m = json(body.subarray(2, 2 + metaLength), 'a log\'s metadata');
  if (!isCanonicalUuid(m.id) || !text(m.haexTimestamp) || !(m.recordKey === null || text(m.recordKey)) || !text(m.createdAt) || !count(m.sequence)) {
    throw malformed('a log record lacks id, haexTimestamp, recordKey, createdAt or sequence');
  }
  return { id: m.id, haexTimestamp: m.haexTimestamp as string, recordKey: m.recordKey as string | null, createdAt: m.createdAt as string,
    sequence: m.sequence as number, data: body.subarray(2 + metaLength) };
}
