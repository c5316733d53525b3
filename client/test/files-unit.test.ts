/**
 * Unit tests of encrypted files without a server: the chunk format and its integrity checks, every
 * input kind, resume and bounded memory, against an in-memory FileBackend double (used only here;
 * tests/files-*.test.ts run the same code against the real stack's Storage).
 */
import { describe, expect, it } from 'vitest';
import { ForbiddenError, NotFoundError } from '../src/index.ts';
import type { FileBackend, FileRecord, ListedObject } from '../src/files/backend.ts';
import * as files from '../src/files/files.ts';
import {
  chunkAad, chunkPath, CHUNK_OVERHEAD, FileIntegrityError, HEADER_BYTES, headerPath, MIN_CHUNK_SIZE,
} from '../src/files/format.ts';

const VAULT = '0b7f4c1e-5a57-4d1c-9c59-3a0f0e6f2a10';
const CHUNK = MIN_CHUNK_SIZE;

class MemoryBackend implements FileBackend {
  objects = new Map<string, Uint8Array<ArrayBuffer>>();
  created = new Map<string, string>();
  recordsByKey = new Map<string, FileRecord>();
  uploads: string[] = [];
  inflight = 0;
  maxInflight = 0;
  /** Throws on the n-th chunk upload from now (simulates a killed upload). */
  failAfter: number | undefined;
  async upload(path: string, body: Uint8Array<ArrayBuffer>, { upsert }: { upsert: boolean }) {
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (this.failAfter !== undefined && path.includes('/c/') && this.failAfter-- <= 0) throw new Error('connection lost');
      if (!upsert && this.objects.has(path)) return 'exists' as const;
      this.objects.set(path, body.slice());
      if (!this.created.has(path)) this.created.set(path, new Date().toISOString());
      this.uploads.push(path);
      return 'stored' as const;
    } finally {
      this.inflight--;
    }
  }
  async download(path: string) { return this.objects.get(path)?.slice(); }
  async list(folder: string, { limit, offset }: { limit: number; offset: number }): Promise<ListedObject[]> {
    const entries = new Map<string, ListedObject>();
    for (const [path, body] of this.objects) {
      if (!path.startsWith(`${folder}/`)) continue;
      const [name, ...rest] = path.slice(folder.length + 1).split('/');
      entries.set(name!, rest.length ? { name: name!, folder: true, size: undefined, createdAt: undefined }
        : { name: name!, folder: false, size: body.length, createdAt: this.created.get(path) });
    }
    return [...entries.values()].sort((a, b) => a.name.localeCompare(b.name)).slice(offset, offset + limit);
  }
  readonly = false;
  async remove(paths: string[]) {
    if (this.readonly) return 0;
    return paths.filter((p) => this.objects.delete(p)).length;
  }
  async checkQuota() {}
  async register(vaultId: string, fileId: string, size: number, chunkCount: number) {
    const record = this.recordsByKey.get(fileId) ?? { fileId, size, chunkCount, createdAt: new Date().toISOString() };
    this.recordsByKey.set(fileId, record);
    return record;
  }
  async record(_: string, fileId: string) { return this.recordsByKey.get(fileId); }
  async records(_: string, { limit, offset }: { limit: number; offset: number }) { return [...this.recordsByKey.values()].slice(offset, offset + limit); }
  async forget(_: string, fileId: string) { this.recordsByKey.delete(fileId); }
  async prepareVaultDeletion() {}
  async usage() { return new Map(); }
}

async function vaultKey(): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

async function context(backend = new MemoryBackend(), options: { concurrency?: number } = {}) {
  const keys = new Map<number, CryptoKey>([[1, await vaultKey()]]);
  let current = 1;
  const ctx: files.FilesContext = {
    vaultId: VAULT, backend, chunkSize: CHUNK, concurrency: options.concurrency ?? 3,
    currentKey: () => ({ key: keys.get(current)!, generation: current }),
    keyFor: async (g) => keys.get(g) ?? Promise.reject(new Error(`no key ${g}`)),
  };
  return { ctx, backend, rotate: async () => { keys.set(++current, await vaultKey()); } };
}

const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 31 + seed * 7 + (i >> 8)) & 255);
function streamOf(data: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= data.length) { c.close(); return; }
      c.enqueue(data.slice(at, at + piece));
      at += piece;
    },
  }, { highWaterMark: 0 });
}
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

describe('encrypted files (format and client logic, in memory)', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])('round-trips %i bytes from a Uint8Array, a Blob and a stream', async (n) => {
    const { ctx, backend } = await context();
    const data = bytes(n);
    for (const input of [data, new Blob([data]), streamOf(data, 1000 + (n % 7))]) {
      const { fileId, size } = await files.putFile(ctx, input);
      expect(size).toBe(n);
      expect(await files.getFile(ctx, fileId)).toEqual(data);
      expect(await readAll(await files.openFile(ctx, fileId))).toEqual(data);
      const count = Math.max(1, Math.ceil(n / CHUNK));
      expect(backend.objects.get(headerPath(VAULT, fileId))!.length).toBe(HEADER_BYTES);
      expect(backend.objects.get(chunkPath(VAULT, fileId, count - 1))!.length).toBe(n - (count - 1) * CHUNK + CHUNK_OVERHEAD);
      expect(backend.objects.has(chunkPath(VAULT, fileId, count))).toBe(false);
    }
  });

  it('stores no plaintext byte: a file of one repeated byte leaves no run of it in any object', async () => {
    const { ctx, backend } = await context();
    await files.putFile(ctx, new Uint8Array(2 * CHUNK).fill(0x41));
    for (const body of backend.objects.values()) expect(Buffer.from(body).includes(Buffer.alloc(16, 0x41))).toBe(false);
  });

  it('lists files with size and createdAt; deleteFile removes record and objects; a missing file is NotFoundError', async () => {
    const { ctx, backend } = await context();
    const a = await files.putFile(ctx, bytes(10));
    const b = await files.putFile(ctx, bytes(CHUNK * 2));
    expect((await files.files(ctx)).map((f) => [f.fileId, f.size])).toEqual([[a.fileId, 10], [b.fileId, CHUNK * 2]]);
    await files.deleteFile(ctx, a.fileId);
    expect([...backend.objects.keys()].some((k) => k.includes(a.fileId))).toBe(false);
    await expect(files.getFile(ctx, a.fileId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.openFile(ctx, crypto.randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.deleteFile(ctx, a.fileId)).rejects.toBeInstanceOf(NotFoundError);
  });

  describe('a lying server gets a FileIntegrityError, never bytes', () => {
    async function twoFiles() {
      const c = await context();
      const one = await files.putFile(c.ctx, bytes(3 * CHUNK + 100, 1));
      const two = await files.putFile(c.ctx, bytes(3 * CHUNK + 100, 2));
      return { ...c, one: one.fileId, two: two.fileId };
    }
    const expectIntegrityError = async (ctx: files.FilesContext, fileId: string) => {
      await expect(files.getFile(ctx, fileId)).rejects.toBeInstanceOf(FileIntegrityError);
      const stream = await files.openFile(ctx, fileId).catch((e) => e);
      if (stream instanceof Error) { expect(stream).toBeInstanceOf(FileIntegrityError); return; }
      await expect(readAll(stream)).rejects.toBeInstanceOf(FileIntegrityError);
    };

    it('a flipped bit in a chunk', async () => {
      const { ctx, backend, one } = await twoFiles();
      backend.objects.get(chunkPath(VAULT, one, 1))![40]! ^= 1;
      await expectIntegrityError(ctx, one);
    });
    it('two chunks swapped', async () => {
      const { ctx, backend, one } = await twoFiles();
      const [a, b] = [chunkPath(VAULT, one, 0), chunkPath(VAULT, one, 1)];
      const x = backend.objects.get(a)!;
      backend.objects.set(a, backend.objects.get(b)!);
      backend.objects.set(b, x);
      await expectIntegrityError(ctx, one);
    });
    it('a chunk of another file in its place', async () => {
      const { ctx, backend, one, two } = await twoFiles();
      backend.objects.set(chunkPath(VAULT, one, 2), backend.objects.get(chunkPath(VAULT, two, 2))!);
      await expectIntegrityError(ctx, one);
    });
    it('the header of another file', async () => {
      const { ctx, backend, one, two } = await twoFiles();
      backend.objects.set(headerPath(VAULT, one), backend.objects.get(headerPath(VAULT, two))!);
      await expectIntegrityError(ctx, one);
    });
    it('truncated: the last chunk dropped and the record shortened to match', async () => {
      const { ctx, backend, one } = await twoFiles();
      backend.objects.delete(chunkPath(VAULT, one, 3));
      backend.recordsByKey.set(one, { ...backend.recordsByKey.get(one)!, chunkCount: 3, size: 3 * CHUNK });
      await expectIntegrityError(ctx, one);
    });
    it('a chunk missing', async () => {
      const { ctx, backend, one } = await twoFiles();
      backend.objects.delete(chunkPath(VAULT, one, 1));
      await expectIntegrityError(ctx, one);
    });
    it('extended: a record claiming one more chunk (a copy of the last)', async () => {
      const { ctx, backend, one } = await twoFiles();
      backend.objects.set(chunkPath(VAULT, one, 4), backend.objects.get(chunkPath(VAULT, one, 3))!);
      backend.recordsByKey.set(one, { ...backend.recordsByKey.get(one)!, chunkCount: 5 });
      await expectIntegrityError(ctx, one);
    });
    it('a record lying about the size', async () => {
      const { ctx, backend, one } = await twoFiles();
      backend.recordsByKey.set(one, { ...backend.recordsByKey.get(one)!, size: 3 * CHUNK + 99 });
      await expectIntegrityError(ctx, one);
    });
    it('the AAD binds vault, file, index and the last flag', () => {
      const f = crypto.randomUUID();
      const base = chunkAad(VAULT, f, 1, false);
      for (const other of [chunkAad(VAULT, f, 2, false), chunkAad(VAULT, f, 1, true), chunkAad(VAULT, crypto.randomUUID(), 1, false),
        chunkAad(crypto.randomUUID(), f, 1, false)]) expect(Buffer.from(other).equals(Buffer.from(base))).toBe(false);
    });
  });

  it('an upload killed midway and restarted with the same fileId sends only the missing chunks', async () => {
    const { ctx, backend } = await context(undefined, { concurrency: 1 });
    const data = bytes(6 * CHUNK + 10);
    const fileId = crypto.randomUUID();
    backend.failAfter = 3;
    await expect(files.putFile(ctx, data, { fileId })).rejects.toThrow('connection lost');
    expect(backend.uploads.filter((p) => p.includes('/c/'))).toHaveLength(3);
    expect(await backend.record(VAULT, fileId)).toBeUndefined();
    backend.failAfter = undefined;
    backend.uploads = [];
    const progress: number[] = [];
    const { size } = await files.putFile(ctx, streamOf(data, 5000), { fileId, onProgress: (done) => progress.push(done) });
    expect(size).toBe(data.length);
    expect(backend.uploads).toEqual([3, 4, 5, 6].map((i) => chunkPath(VAULT, fileId, i)));
    expect(progress.at(-1)).toBe(data.length);
    expect(await files.getFile(ctx, fileId)).toEqual(data);
  });

  it('files written under an older key generation stay readable after a rotation; new ones use the new generation', async () => {
    const { ctx, backend, rotate } = await context();
    const old = await files.putFile(ctx, bytes(100));
    await rotate();
    const fresh = await files.putFile(ctx, bytes(200));
    expect(await files.getFile(ctx, old.fileId)).toEqual(bytes(100));
    expect(await files.getFile(ctx, fresh.fileId)).toEqual(bytes(200));
    const generation = (fileId: string) => new DataView(backend.objects.get(headerPath(VAULT, fileId))!.buffer).getUint32(5);
    expect([generation(old.fileId), generation(fresh.fileId)]).toEqual([1, 2]);
  });

  it('memory stays bounded: at most `concurrency` chunk uploads in flight, and a stream is read only as fast as it is sent', async () => {
    const { ctx, backend } = await context(undefined, { concurrency: 2 });
    const chunks = 12;
    let pulled = 0;
    let maxAhead = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulled === chunks) { c.close(); return; }
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - backend.uploads.filter((p) => p.includes('/c/')).length);
        c.enqueue(bytes(CHUNK, pulled));
      },
    }, { highWaterMark: 0 });
    await files.putFile(ctx, source);
    expect(backend.maxInflight).toBeLessThanOrEqual(2);
    expect(maxAhead).toBeLessThanOrEqual(2 + 2); // in flight + the lookahead piece + the one being read
  });

  it('an aborted upload stops before sending more', async () => {
    const { ctx, backend } = await context(undefined, { concurrency: 1 });
    const controller = new AbortController();
    const put = files.putFile(ctx, bytes(8 * CHUNK), {
      onProgress: (done) => { if (done >= 2 * CHUNK) controller.abort(); }, signal: controller.signal,
    });
    await expect(put).rejects.toThrow();
    expect(backend.uploads.filter((p) => p.includes('/c/')).length).toBeLessThan(5);
  });

  it('a removal Storage skips (RLS) ends in ForbiddenError instead of listing the same objects forever', async () => {
    const { ctx, backend } = await context();
    backend.failAfter = 1;
    const partial = crypto.randomUUID();
    await expect(files.putFile(ctx, bytes(3 * CHUNK), { fileId: partial })).rejects.toThrow();
    backend.readonly = true;
    await expect(files.deleteFile(ctx, partial)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(files.compactFiles(ctx, { live: [], minAgeMs: 0 })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(files.removeVaultObjects(ctx)).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('compactFiles removes unreferenced files and leftovers of interrupted uploads, keeps live ones', async () => {
    const { ctx, backend } = await context();
    const keep = await files.putFile(ctx, bytes(10));
    const drop = await files.putFile(ctx, bytes(10));
    backend.failAfter = 0;
    const partial = crypto.randomUUID();
    await expect(files.putFile(ctx, bytes(3 * CHUNK), { fileId: partial })).rejects.toThrow();
    backend.failAfter = undefined;
    expect(await files.compactFiles(ctx, { live: [keep.fileId], minAgeMs: 0 })).toEqual({
      removed: expect.arrayContaining([drop.fileId, partial]), more: false,
    });
    expect([...backend.objects.keys()].every((k) => k.includes(keep.fileId))).toBe(true);
    expect((await files.files(ctx)).map((f) => f.fileId)).toEqual([keep.fileId]);
    // too young to go
    expect((await files.compactFiles(ctx, { live: [] })).removed).toEqual([]);
  });
});
