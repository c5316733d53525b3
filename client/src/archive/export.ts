/**
 * vault.exportArchive: the vault as one password-protected archive (format.ts, records.ts,
 * docs/export.md), produced as the consumer reads it.
 *
 * What goes in: every log a device would apply (a pull from 0: live logs, decrypted, their data as
 * the device gets it, with id, haexTimestamp, record key, createdAt and sequence), up to the vault's
 * last sequence when the export starts (later pushes belong to the next export); then every file
 * the vault lists when the export starts, decrypted through the files API (a file deleted meanwhile
 * is left out); then the counts written. Members, devices and key generations are the server's and
 * the source vault's: a restore makes a new vault owned by the importer (import.ts).
 *
 * Memory: one pull page (pullPages holds at most two), one file chunk in flight (openFile) and one
 * archive chunk; never the vault. Nothing is read ahead of the consumer beyond that: a consumer that
 * stops reading pauses the export; cancelling the stream ends it.
 */
import { NotFoundError } from '../errors.ts';
import type { FileInfo } from '../files/files.ts';
import type { PullPage } from '../pull.ts';
import { newArchiveHeader, sealArchive } from './format.ts';
import { encodeJson, encodeLog, encodeRecord, FILE_DATA_PIECE, RecordType, type Manifest } from './records.ts';

export interface ExportArchiveOptions {
  /** The archive's password (PBKDF2 of the vault password's strength). */
  password: string;
  /** Called as logs and files are written: items done (logs + files) of about `totalItems`. */
  onProgress?: (doneItems: number, totalItems: number) => void;
}

/** What the export reads of a Vault (vault.ts builds it). */
export interface ExportSource {
  vaultId: string;
  keyGeneration: number;
  /** The vault's last sequence and live log count now. */
  summary(): Promise<{ lastSequence: number; logCount: number }>;
  pull(afterSequence: number): AsyncGenerator<PullPage, void, undefined>;
  /** The vault's files ([] where the client has no files API). */
  files(): Promise<FileInfo[]>;
  openFile(fileId: string): Promise<ReadableStream<Uint8Array>>;
}

export async function exportArchive(source: ExportSource, options: ExportArchiveOptions): Promise<ReadableStream<Uint8Array>> {
  const { header, keys } = await newArchiveHeader(options.password);
  const { lastSequence, logCount } = await source.summary();
  const files = await source.files();
  const expected = { logs: logCount, files: files.length, fileBytes: files.reduce((sum, f) => sum + f.size, 0) };
  const manifest: Manifest = {
    format: 1, createdAt: new Date().toISOString(), expected,
    source: { vaultId: source.vaultId, lastSequence, keyGeneration: source.keyGeneration },
  };
  const total = expected.logs + expected.files;
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, Math.max(total, done));
  };

  async function* records(): AsyncGenerator<Uint8Array> {
    yield encodeJson(RecordType.Manifest, manifest);
    const written = { logs: 0, files: 0, fileBytes: 0 };
    if (lastSequence > 0) {
      for await (const page of source.pull(0)) {
        const parts: Uint8Array[] = [];
        let size = 0;
        for (const log of page.logs) {
          if (log.sequence > lastSequence) break;
          const record = encodeLog(log, JSON.stringify(log.data));
          parts.push(record);
          size += record.length;
        }
        // One record batch per page: fewer hand-offs to the chunk sealer than one per log.
        const batch = new Uint8Array(size);
        let at = 0;
        for (const part of parts) { batch.set(part, at); at += part.length; }
        if (parts.length > 0) yield batch;
        written.logs += parts.length;
        progress(parts.length);
        if (page.nextSequence >= lastSequence) break;
      }
    }
    for (const file of files) {
      let stream: ReadableStream<Uint8Array>;
      try {
        stream = await source.openFile(file.fileId);
      } catch (error) {
        if (error instanceof NotFoundError) continue; // deleted since the listing
        throw error;
      }
      yield encodeJson(RecordType.File, { fileId: file.fileId, size: file.size, createdAt: file.createdAt });
      let size = 0;
      // A reader, not `for await`: WebKit (Tauri on macOS) cannot async-iterate a ReadableStream.
      for (const reader = stream.getReader(); ;) {
        const { done: end, value: part } = await reader.read();
        if (end) break;
        for (let at = 0; at < part.length; at += FILE_DATA_PIECE) {
          const piece = part.subarray(at, Math.min(at + FILE_DATA_PIECE, part.length));
          size += piece.length;
          if (size > file.size) throw new Error(`file ${file.fileId} is longer than its record's ${file.size} bytes`);
          yield encodeRecord(RecordType.FileData, piece);
        }
      }
      if (size !== file.size) throw new Error(`file ${file.fileId} has ${size} bytes, its record ${file.size}`);
      written.files++;
      written.fileBytes += size;
      progress(1);
    }
    yield encodeJson(RecordType.End, written);
    options.onProgress?.(done, done);
  }

  return sealArchive(header, keys, records());
}
