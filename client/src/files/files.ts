/**
 * Encrypted files of a vault: putFile, getFile, openFile, deleteFile, files, compactFiles (the Vault
 * methods delegate here; wire format and crypto in format.ts, storage in backend.ts, docs/files.md).
 *
 * Invariants:
 * - Memory: an upload holds at most `concurrency` + 1 chunks (plaintext and sealed) at a time, a
 *   download `concurrency` sealed chunks plus the one being handed out; never the whole file.
 * - Resume: the header is written first and never replaced, so a restarted putFile with the same
 *   fileId unwraps the same file key, lists the chunk objects already stored and uploads only the
 *   others (a chunk counts as stored when its object has the sealed size that chunk must have).
 *   The restarted upload must be given the same bytes (as with any resumable upload).
 * - A file is listed (files(), getFile) once register_file recorded it, after its last chunk.
 * - Reads authenticate every chunk before handing out its bytes (FileIntegrityError otherwise).
 * - Removal is resumable: the record goes first (the file is gone for readers at once), then the
 *   objects, each call listing what is left; compactFiles and deleteVault sweep what an interrupted
 *   call left behind. Every loop over the server's objects is bounded (pages of 1,000).
 */
import { ForbiddenError, NotFoundError, UsageError } from '../errors.ts';
import { canonicalUuid, isCanonicalUuid } from '../encoding.ts';
import type { FileBackend, FileRecord } from './backend.ts';
import {
  CHUNK_OVERHEAD, chunkFolder, chunkIndexOf, chunkPath, checkChunkSize, createFileKey, DEFAULT_CHUNK_SIZE, fileFolder,
  FileIntegrityError, type FileKey, HEADER_BYTES, headerPath, MAX_CHUNKS, openChunk, openFileKey, sealChunk,
} from './format.ts';

export type FileData = Uint8Array | Blob | ReadableStream<Uint8Array>;

export interface PutFileOptions {
  fileId?: string;
  onProgress?: (doneBytes: number, totalBytes?: number) => void;
  signal?: AbortSignal;
}

export interface FileInfo { fileId: string; size: number; createdAt: string }

export interface FilesContext {
  vaultId: string;
  backend: FileBackend;
  /** The vault key new files are wrapped under, and its generation. */
  currentKey(): { key: CryptoKey; generation: number };
  /** The vault key of any generation this device holds (KeyRing.keyFor). */
  keyFor(generation: number): Promise<CryptoKey>;
  chunkSize?: number;
  concurrency?: number;
}

const PAGE = 1000;
const DEFAULT_CONCURRENCY = 3;

/** Every entry of a folder, page by page (bounded: a file has at most 2^32 chunks; pages of 1,000). */
async function* listAll(backend: FileBackend, folder: string) {
  for (let offset = 0; ; offset += PAGE) {
    const page = await backend.list(folder, { limit: PAGE, offset });
    yield* page;
    if (page.length < PAGE) return;
  }
}

/** Cuts any input into pieces of exactly `size` bytes (the last one shorter, or empty for empty input). */
async function* pieces(data: FileData, size: number, signal?: AbortSignal): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  if (data instanceof Uint8Array) {
    for (let at = 0; at < data.length || at === 0; at += size) {
      signal?.throwIfAborted();
      yield data.slice(at, at + size) as Uint8Array<ArrayBuffer>;
      if (at + size >= data.length) return;
    }
    return;
  }
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    for (let at = 0; at < data.size || at === 0; at += size) {
      signal?.throwIfAborted();
      yield new Uint8Array(await data.slice(at, at + size).arrayBuffer());
      if (at + size >= data.size) return;
    }
    return;
  }
  if (!data || typeof (data as ReadableStream).getReader !== 'function') {
    throw new UsageError('putFile data must be a Uint8Array, a Blob or a ReadableStream<Uint8Array>');
  }
  const reader = (data as ReadableStream<Uint8Array>).getReader();
  let buffer = new Uint8Array(size);
  let filled = 0;
  let yielded = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) throw new UsageError('putFile: the stream must yield Uint8Array chunks');
      for (let at = 0; at < value.length;) {
        const n = Math.min(size - filled, value.length - at);
        buffer.set(value.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === size) {
          yield buffer;
          yielded = true;
          buffer = new Uint8Array(size);
          filled = 0;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (filled > 0 || !yielded) yield buffer.slice(0, filled);
}

const totalOf = (data: FileData): number | undefined =>
  data instanceof Uint8Array ? data.length : typeof Blob !== 'undefined' && data instanceof Blob ? data.size : undefined;

/** The file key of `fileId`: the stored header's (a resumed upload), else a new one whose header is stored now. */
async function fileKeyFor(ctx: FilesContext, fileId: string, quotaBytes: number | undefined): Promise<{ fileKey: FileKey; fresh: boolean }> {
  const path = headerPath(ctx.vaultId, fileId);
  const stored = await ctx.backend.download(path);
  if (stored) return { fileKey: await openFileKey(ctx.vaultId, fileId, stored, (g) => ctx.keyFor(g)), fresh: false };
  if (quotaBytes !== undefined) await ctx.backend.checkQuota(ctx.vaultId, quotaBytes + HEADER_BYTES);
  const { key, generation } = ctx.currentKey();
  const { fileKey, header } = await createFileKey(ctx.vaultId, fileId, key, generation, checkChunkSize(ctx.chunkSize ?? DEFAULT_CHUNK_SIZE));
  if (await ctx.backend.upload(path, header, { upsert: false }) === 'stored') return { fileKey, fresh: true };
  // Another upload of the same fileId stored its header first: continue under its key.
  const theirs = await ctx.backend.download(path);
  if (!theirs) throw new FileIntegrityError(ctx.vaultId, fileId, undefined, 'the header vanished while it was being written');
  return { fileKey: await openFileKey(ctx.vaultId, fileId, theirs, (g) => ctx.keyFor(g)), fresh: false };
}

export async function putFile(ctx: FilesContext, data: FileData, options: PutFileOptions = {}): Promise<{ fileId: string; size: number }> {
  const fileId = canonicalUuid(options.fileId ?? globalThis.crypto.randomUUID(), 'fileId');
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const total = totalOf(data);
  const chunkSize = checkChunkSize(ctx.chunkSize ?? DEFAULT_CHUNK_SIZE);
  // First the SQL API's access check (typed errors: NotFoundError, ForbiddenError for a reader,
  // SessionRevokedError), before Storage answers in its own terms.
  await ctx.backend.checkQuota(ctx.vaultId, 0);
  // Known size: the whole file is checked against the quota before its first object is stored.
  const sealedTotal = total === undefined ? undefined : total + Math.max(1, Math.ceil(total / chunkSize)) * CHUNK_OVERHEAD;
  // A stream of unknown length: the header and a first full chunk must fit before anything is stored.
  const { fileKey, fresh } = await fileKeyFor(ctx, fileId, sealedTotal ?? chunkSize + CHUNK_OVERHEAD);

  const stored = new Map<number, number | undefined>(); // chunk index -> object size
  if (!fresh) {
    for await (const entry of listAll(ctx.backend, chunkFolder(ctx.vaultId, fileId))) {
      const index = chunkIndexOf(entry.name);
      if (index !== undefined && !entry.folder) stored.set(index, entry.size);
    }
    if (sealedTotal !== undefined) {
      const missing = sealedTotal - [...stored.values()].reduce<number>((sum, size) => sum + (size ?? 0), 0);
      if (missing > 0) await ctx.backend.checkQuota(ctx.vaultId, missing);
    }
  }

  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let done = 0;
  const send = async (index: number, plain: Uint8Array<ArrayBuffer>, last: boolean) => {
    const sealedSize = plain.length + CHUNK_OVERHEAD;
    if (stored.get(index) !== sealedSize) {
      if (total === undefined) await ctx.backend.checkQuota(ctx.vaultId, sealedSize);
      const sealed = await sealChunk(fileKey, index, last, plain);
      await ctx.backend.upload(chunkPath(ctx.vaultId, fileId, index), sealed, { upsert: true });
    }
    done += plain.length;
    onProgress?.(done, total);
  };
  const dispatch = async (index: number, plain: Uint8Array<ArrayBuffer>, last: boolean) => {
    while (inflight.size >= (ctx.concurrency ?? DEFAULT_CONCURRENCY)) await Promise.race(inflight);
    if (failure) throw failure;
    const job: Promise<void> = send(index, plain, last)
      .catch((error) => { failure ??= error; })
      .finally(() => { inflight.delete(job); });
    inflight.add(job);
  };

  // One piece of lookahead: a piece is the last one only once the input has ended.
  let index = 0;
  let pending: Uint8Array<ArrayBuffer> | undefined;
  let size = 0;
  try {
    for await (const piece of pieces(data, chunkSize, signal)) {
      if (pending) {
        if (index >= MAX_CHUNKS) throw new UsageError('a file has at most 2^32 - 1 chunks');
        await dispatch(index++, pending, false);
      }
      pending = piece;
      size += piece.length;
      if (failure) throw failure;
    }
    await dispatch(index, pending ?? new Uint8Array(0), true);
  } finally {
    await Promise.all(inflight);
  }
  if (failure) throw failure;
  signal?.throwIfAborted();
  const count = index + 1;
  // Chunks past the end (left by an earlier attempt at this fileId) would make the file unreadable.
  const extra = [...stored.keys()].filter((i) => i >= count).map((i) => chunkPath(ctx.vaultId, fileId, i));
  for (let i = 0; i < extra.length; i += PAGE) await ctx.backend.remove(extra.slice(i, i + PAGE));
  await ctx.backend.register(ctx.vaultId, fileId, size, count);
  return { fileId, size };
}

async function requireRecord(ctx: FilesContext, fileId: string): Promise<FileRecord> {
  const id = canonicalUuid(fileId, 'fileId');
  const record = await ctx.backend.record(ctx.vaultId, id);
  if (!record) throw new NotFoundError(`file ${id} not found in vault ${ctx.vaultId}`, 404, 'not_found');
  return record;
}

/** A stream of the file's plaintext that downloads (up to `concurrency` chunks ahead) and authenticates as it goes. */
export async function openFile(ctx: FilesContext, fileId: string, options: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
  const record = await requireRecord(ctx, fileId);
  const id = record.fileId;
  const fail = (chunk: number | undefined, reason: string) => new FileIntegrityError(ctx.vaultId, id, chunk, reason);
  const header = await ctx.backend.download(headerPath(ctx.vaultId, id), options.signal);
  if (!header) throw fail(undefined, 'its header is missing');
  const fileKey = await openFileKey(ctx.vaultId, id, header, (g) => ctx.keyFor(g));
  const count = record.chunkCount;
  const ahead: Promise<Uint8Array | undefined>[] = [];
  let next = 0; // next chunk to request
  let index = 0; // next chunk to hand out
  let delivered = 0;
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const request = () => {
    while (next < count && ahead.length < (ctx.concurrency ?? DEFAULT_CONCURRENCY)) {
      const download = ctx.backend.download(chunkPath(ctx.vaultId, id, next++), signal);
      download.catch(() => {}); // observed when its turn comes
      ahead.push(download);
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(stream) {
      if (index === count) {
        if (delivered !== record.size) throw fail(undefined, `its chunks hold ${delivered} bytes, its record says ${record.size}`);
        stream.close();
        return;
      }
      request();
      const sealed = await ahead.shift()!;
      if (!sealed) throw fail(index, 'the chunk is missing');
      const plain = await openChunk(fileKey, index, index === count - 1, sealed);
      index++;
      delivered += plain.length;
      stream.enqueue(plain);
      if (index === count && delivered !== record.size) {
        throw fail(undefined, `its chunks hold ${delivered} bytes, its record says ${record.size}`);
      }
    },
    cancel() { controller.abort(); },
  }, { highWaterMark: 0 });
}

/** The whole plaintext (checked like openFile's stream). */
export async function getFile(ctx: FilesContext, fileId: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  const record = await requireRecord(ctx, fileId);
  const stream = await openFile(ctx, record.fileId, options);
  const out = new Uint8Array(record.size);
  let at = 0;
  // A reader, not `for await`: WebKit (Safari, Tauri on macOS) cannot iterate a ReadableStream.
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    if (at + value.length > out.length) {
      await reader.cancel();
      throw new FileIntegrityError(ctx.vaultId, record.fileId, undefined, 'longer than its record says');
    }
    out.set(value, at);
    at += value.length;
  }
}

/** Removes the file's objects under its folder (resumable: lists what is left). Returns how many it removed. */
async function removeObjects(ctx: FilesContext, fileId: string): Promise<number> {
  let removed = 0;
  const removeAll = async (names: string[]) => {
    const gone = await ctx.backend.remove(names);
    // Storage skips what RLS does not let the caller remove: without progress, stop (never loop on it).
    if (gone === 0 && names.length > 0) {
      throw new ForbiddenError(`the objects of file ${fileId} in vault ${ctx.vaultId} cannot be removed by this user`, 403, 'forbidden');
    }
    removed += gone;
  };
  // Chunks first, the header last: a file whose header is gone has nothing left to find.
  for (;;) {
    const page = await ctx.backend.list(chunkFolder(ctx.vaultId, fileId), { limit: PAGE, offset: 0 });
    const names = page.filter((o) => !o.folder).map((o) => `${chunkFolder(ctx.vaultId, fileId)}/${o.name}`);
    if (names.length === 0) break;
    await removeAll(names);
    if (page.length < PAGE) break;
  }
  const rest = await ctx.backend.list(fileFolder(ctx.vaultId, fileId), { limit: PAGE, offset: 0 });
  await removeAll(rest.filter((o) => !o.folder).map((o) => `${fileFolder(ctx.vaultId, fileId)}/${o.name}`));
  return removed;
}

/** Deletes a file for every device: its record first, then its objects. NotFoundError when nothing of it exists. */
export async function deleteFile(ctx: FilesContext, fileId: string): Promise<void> {
  const id = canonicalUuid(fileId, 'fileId');
  const record = await ctx.backend.record(ctx.vaultId, id);
  if (record) await ctx.backend.forget(ctx.vaultId, id);
  const removed = await removeObjects(ctx, id);
  if (!record && removed === 0) throw new NotFoundError(`file ${id} not found in vault ${ctx.vaultId}`, 404, 'not_found');
}

/** Every complete file of the vault, oldest first (pages of 1,000, at most `max`). */
export async function files(ctx: FilesContext, max = 1_000_000): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for (let offset = 0; offset < max; offset += PAGE) {
    const page = await ctx.backend.records(ctx.vaultId, { limit: PAGE, offset });
    out.push(...page.map(({ fileId, size, createdAt }) => ({ fileId, size, createdAt })));
    if (page.length < PAGE) break;
  }
  return out;
}

export interface CompactFilesOptions {
  /** The fileIds the app's data still references: every other file may go. */
  live: Iterable<string>;
  /**
   * Only files older than this many milliseconds are removed (default one day): a file another
   * device just uploaded may be referenced by a change this device has not pulled yet.
   */
  minAgeMs?: number;
  /** At most this many files per call (default 100); call again while `more`. */
  maxFiles?: number;
}

/**
 * Removes the vault's files the app no longer references, and what interrupted uploads or deletions
 * left behind, through the Storage API. Resumable and bounded: returns `more` when it stopped at maxFiles.
 */
export async function compactFiles(ctx: FilesContext, options: CompactFilesOptions): Promise<{ removed: string[]; more: boolean }> {
  const live = new Set([...options.live].map((id) => canonicalUuid(id, 'live fileId')));
  const cutoff = Date.now() - (options.minAgeMs ?? 86_400_000);
  const max = options.maxFiles ?? 100;
  const removed: string[] = [];
  // Every folder of the vault is a file (complete, or an upload or deletion that never finished).
  // A removed folder leaves the listing, so the next page starts that many entries earlier.
  for (let offset = 0; ;) {
    const page = await ctx.backend.list(ctx.vaultId, { limit: PAGE, offset });
    let gone = 0;
    for (const folder of page.filter((o) => o.folder && !live.has(o.name))) {
      // A folder whose name is no uuid is no file of this client's: left over, it has no record.
      const record = isCanonicalUuid(folder.name) ? await ctx.backend.record(ctx.vaultId, folder.name) : undefined;
      const header = (await ctx.backend.list(fileFolder(ctx.vaultId, folder.name), { limit: PAGE, offset: 0 }))
        .find((o) => o.name === 'header');
      const born = Date.parse(record?.createdAt ?? header?.createdAt ?? '');
      if (Number.isFinite(born) && born > cutoff) continue;
      if (removed.length >= max) return { removed, more: true };
      if (record) await ctx.backend.forget(ctx.vaultId, folder.name);
      await removeObjects(ctx, folder.name);
      removed.push(folder.name);
      gone++;
    }
    if (page.length < PAGE) return { removed, more: false };
    offset += PAGE - gone;
  }
}

/** Removes every object of the vault (before delete_vault, which refuses while any remain). Resumable. */
export async function removeVaultObjects(ctx: Pick<FilesContext, 'vaultId' | 'backend'>, maxFolders = 1_000_000): Promise<void> {
  for (let n = 0; n < maxFolders; n += PAGE) {
    const page = await ctx.backend.list(ctx.vaultId, { limit: PAGE, offset: 0 });
    if (page.length === 0) return;
    for (const entry of page) {
      if (entry.folder) await removeObjects(ctx as FilesContext, entry.name);
      else if (await ctx.backend.remove([`${ctx.vaultId}/${entry.name}`]) === 0) {
        throw new ForbiddenError(`the object ${entry.name} of vault ${ctx.vaultId} cannot be removed by this user`, 403, 'forbidden');
      }
    }
    if (page.length < PAGE) return;
  }
}

