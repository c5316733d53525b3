/**
 * The bytes of the embedded Storage, on disk under `<dataDir>/storage/` (kept across restarts):
 *
 *   objects/<vv>/<version>   one file per object version; `version` is the random uuid a write
 *                            gives storage.objects.version (as Storage's file backend keys bytes by
 *                            bucket, name and version), `vv` its first two hex digits. Names never
 *                            reach the file system, so no object name can escape the folder.
 *   incoming/<uuid>          a simple upload being received (renamed into objects/ once complete)
 *   tus/                     resumable uploads in progress (@tus/file-store: `<id>` + `<id>.json`)
 *
 * Invariants: a version file is complete before any row points at it (written under incoming/,
 * fsync'd, then renamed); a version is never rewritten (an upsert makes a new version and removes
 * the old file after its transaction commits); bodies stream through with bounded memory.
 * A crash between a commit and the removal of a replaced version leaves an orphaned file, never a
 * row without bytes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { copyFile, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ERRORS } from './errors.ts';

export interface StoredFile {
  /** Where the bytes are until `commit` moves them under their version. */
  tempPath: string;
  size: number;
  /** Quoted md5 hex, as Storage's `eTag`. */
  eTag: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class FileStore {
  readonly root: string;
  readonly tusDir: string;
  readonly #incoming: string;
  readonly #objects: string;

  constructor(root: string) {
    this.root = root;
    this.tusDir = path.join(root, 'tus');
    this.#incoming = path.join(root, 'incoming');
    this.#objects = path.join(root, 'objects');
    // What incoming/ holds on start belonged to uploads of a process that is gone: no row points at it.
    rmSync(this.#incoming, { recursive: true, force: true });
    for (const dir of [this.tusDir, this.#incoming, this.#objects]) mkdirSync(dir, { recursive: true });
  }

  pathOf(version: string): string {
    if (!UUID.test(version)) throw ERRORS.internal(`corrupt object version ${JSON.stringify(version)}`);
    return path.join(this.#objects, version.slice(0, 2), version);
  }

  /**
   * Streams `body` to a new incoming file, refusing more than `maxBytes` (the partial file is
   * removed, the stream aborted). Resolves with its size and md5.
   */
  async receive(body: Readable, maxBytes: number): Promise<StoredFile> {
    const tempPath = path.join(this.#incoming, randomUUID());
    const hash = createHash('md5');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > maxBytes) return done(ERRORS.entityTooLarge());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tempPath, { flags: 'wx' }));
      await fsync(tempPath);
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
    return { tempPath, size, eTag: `"${hash.digest('hex')}"` };
  }

  /** Moves a received (or finished resumable) file under its version. */
  async commit(tempPath: string, version: string): Promise<void> {
    const target = this.pathOf(version);
    mkdirSync(path.dirname(target), { recursive: true });
    await rename(tempPath, target);
  }

  /** md5 of a complete file (resumable uploads arrive in parts; the eTag is over the whole). */
  async digest(file: string): Promise<{ size: number; eTag: string }> {
    const hash = createHash('md5');
    await pipeline(createReadStream(file), hash);
    return { size: (await stat(file)).size, eTag: `"${hash.digest('hex')}"` };
  }

  async copy(fromVersion: string, toVersion: string): Promise<void> {
    const target = this.pathOf(toVersion);
    mkdirSync(path.dirname(target), { recursive: true });
    await copyFile(this.pathOf(fromVersion), target);
  }

  /** The bytes of a version, [start, end] inclusive. Missing file: NoSuchKey. */
  async read(version: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(version);
    try {
      await stat(file);
    } catch {
      throw ERRORS.noSuchKey();
    }
    return createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async remove(versions: Iterable<string | null | undefined>): Promise<void> {
    for (const version of versions) {
      if (version && UUID.test(version)) await rm(this.pathOf(version), { force: true });
    }
  }

  async discard(tempPath: string): Promise<void> {
    await rm(tempPath, { force: true });
  }
}

async function fsync(file: string) {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
