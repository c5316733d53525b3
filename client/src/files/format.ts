/**
 * Encrypted files: the wire format of one file's objects and their cryptography (docs/files.md).
 *
 * A file is stored as objects under `<vault_id>/<file_id>/` in the private bucket `vault-files`:
 *
 *   header           73 bytes, written before any chunk, never rewritten:
 *                      magic "HXF1" (4) | format version 0x01 (1) | key generation (u32 BE) |
 *                      chunk size in plaintext bytes (u32 BE) | nonce (12) | wrapped file key (32 + 16 tag)
 *                    The file key is 32 random bytes, sealed with AES-256-GCM under the vault key of
 *                    that generation, AAD = "haex-sync/file-key/v1" 0x00 | vault id (16) | file id (16) |
 *                    key generation (u32 BE) | chunk size (u32 BE). So the server can neither move a
 *                    header to another file or vault nor change the chunk size or generation.
 *   c/<index>        one per chunk, `index` as 10 decimal digits (0000000000, 0000000001, ...):
 *                      nonce (12) | AES-256-GCM ciphertext of the chunk | tag (16)
 *                    under the file key, AAD = "haex-sync/file-chunk/v1" 0x00 | vault id (16) |
 *                    file id (16) | index (u32 BE) | last (1 byte: 1 for the file's last chunk, else 0).
 *
 * Every chunk holds exactly `chunk size` plaintext bytes except the last, which holds 1..chunk size
 * bytes (0 only for an empty file, which is one empty last chunk). A reader decrypts chunks 0..n-1
 * in order with last = (index == n-1): a chunk moved to another index, file or vault, a chunk of
 * another file, a dropped tail (the new last chunk was sealed with last = 0) or an appended chunk
 * (the real last one was sealed with last = 1) fails authentication: FileIntegrityError, never bytes.
 *
 * Nonces are random (96 bits) per chunk and per wrap; a file key seals at most 2^32 chunks, far
 * below GCM's random-nonce bound. Limits: chunk size 64 KiB..16 MiB (default 4 MiB), at most
 * 2^32 - 1 chunks. The server sees the object sizes (so the file size to the chunk), chunk counts,
 * the key generation and timing; never a plaintext byte, a name or a type.
 */
import { HaexSyncError, UsageError } from '../errors.ts';
import { randomBytes, subtle, utf8 } from '../encoding.ts';

export const FILE_MAGIC = 'HXF1';
export const FILE_FORMAT_VERSION = 1;
export const FILE_KEY_AAD_PREFIX = 'haex-sync/file-key/v1';
export const FILE_CHUNK_AAD_PREFIX = 'haex-sync/file-chunk/v1';
const KIB = 1024;
const MIB = 1024 * KIB;
// Format constants of the client (the server only caps an object at one sealed chunk of MAX_CHUNK_SIZE: the bucket's file_size_limit).
export const DEFAULT_CHUNK_SIZE = 4 * MIB;
export const MIN_CHUNK_SIZE = 64 * KIB;
export const MAX_CHUNK_SIZE = 16 * MIB;
export const MAX_CHUNKS = 0xffff_ffff;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes a sealed chunk adds to its plaintext (nonce and tag). */
export const CHUNK_OVERHEAD = NONCE_BYTES + TAG_BYTES;
export const HEADER_BYTES = 4 + 1 + 4 + 4 + NONCE_BYTES + 32 + TAG_BYTES;

/**
 * A file's objects failed authentication or do not fit together: a chunk altered, missing,
 * reordered, swapped with another file's, truncated or extended, or a header that is not this
 * file's. No byte of such a file is handed to the app (openFile's stream errors instead).
 */
export class FileIntegrityError extends HaexSyncError {
  constructor(readonly vaultId: string, readonly fileId: string, readonly chunk: number | undefined, reason: string,
    options?: { cause?: unknown }) {
    super(`file ${fileId} of vault ${vaultId}${chunk === undefined ? '' : ` (chunk ${chunk})`} failed its integrity check: ${reason}`,
      options);
  }
}

const uuidBytes = (id: string): Uint8Array => {
  const hex = id.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
};

const writeU32 = (target: Uint8Array, offset: number, value: number) =>
  new DataView(target.buffer, target.byteOffset, target.byteLength).setUint32(offset, value);
const readU32 = (source: Uint8Array, offset: number) =>
  new DataView(source.buffer, source.byteOffset, source.byteLength).getUint32(offset);

/** The file key's AAD: binds vault, file, key generation and chunk size. */
export function fileKeyAad(vaultId: string, fileId: string, generation: number, chunkSize: number): Uint8Array<ArrayBuffer> {
  const prefix = utf8(FILE_KEY_AAD_PREFIX);
  const aad = new Uint8Array(prefix.length + 1 + 16 + 16 + 4 + 4);
  aad.set(prefix);
  aad.set(uuidBytes(vaultId), prefix.length + 1);
  aad.set(uuidBytes(fileId), prefix.length + 17);
  writeU32(aad, prefix.length + 33, generation);
  writeU32(aad, prefix.length + 37, chunkSize);
  return aad;
}

/** A chunk's AAD: binds vault, file, chunk index and whether it is the last chunk. */
export function chunkAad(vaultId: string, fileId: string, index: number, last: boolean): Uint8Array<ArrayBuffer> {
  const prefix = utf8(FILE_CHUNK_AAD_PREFIX);
  const aad = new Uint8Array(prefix.length + 1 + 16 + 16 + 4 + 1);
  aad.set(prefix);
  aad.set(uuidBytes(vaultId), prefix.length + 1);
  aad.set(uuidBytes(fileId), prefix.length + 17);
  writeU32(aad, prefix.length + 33, index);
  aad[prefix.length + 37] = last ? 1 : 0;
  return aad;
}

/** Object names of a file (relative to the bucket). */
export const fileFolder = (vaultId: string, fileId: string) => `${vaultId}/${fileId}`;
export const headerPath = (vaultId: string, fileId: string) => `${vaultId}/${fileId}/header`;
export const chunkName = (index: number) => String(index).padStart(10, '0');
export const chunkFolder = (vaultId: string, fileId: string) => `${vaultId}/${fileId}/c`;
export const chunkPath = (vaultId: string, fileId: string, index: number) => `${chunkFolder(vaultId, fileId)}/${chunkName(index)}`;
/** The index of a chunk object's name (within its `c/` folder), or undefined for any other name. */
export const chunkIndexOf = (name: string): number | undefined => {
  if (!/^\d{10}$/.test(name)) return undefined;
  const index = Number(name);
  return index <= MAX_CHUNKS ? index : undefined;
};

/** An open file key: seals and opens the chunks of one file. */
export interface FileKey {
  readonly vaultId: string;
  readonly fileId: string;
  readonly generation: number;
  readonly chunkSize: number;
  readonly key: CryptoKey;
}

export function checkChunkSize(chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new UsageError(`chunkSize must be an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE}`);
  }
  return chunkSize;
}

const importFileKey = (raw: Uint8Array<ArrayBuffer>) =>
  subtle().importKey('raw', raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);

/** A new random file key, and its header (the key wrapped under `vaultKey` of `generation`). */
export async function createFileKey(vaultId: string, fileId: string, vaultKey: CryptoKey, generation: number,
  chunkSize = DEFAULT_CHUNK_SIZE): Promise<{ fileKey: FileKey; header: Uint8Array<ArrayBuffer> }> {
  checkChunkSize(chunkSize);
  const raw = randomBytes(32);
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const wrapped = new Uint8Array(await subtle().encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: fileKeyAad(vaultId, fileId, generation, chunkSize) }, vaultKey, raw));
    const header = new Uint8Array(HEADER_BYTES);
    header.set(utf8(FILE_MAGIC));
    header[4] = FILE_FORMAT_VERSION;
    writeU32(header, 5, generation);
    writeU32(header, 9, chunkSize);
    header.set(nonce, 13);
    header.set(wrapped, 13 + NONCE_BYTES);
    return { fileKey: { vaultId, fileId, generation, chunkSize, key: await importFileKey(raw) }, header };
  } finally {
    raw.fill(0);
  }
}

/** The generation and chunk size a header claims (authenticated only by openFileKey). */
export function parseHeader(vaultId: string, fileId: string, header: Uint8Array): { generation: number; chunkSize: number } {
  const magic = String.fromCharCode(...header.subarray(0, 4));
  if (header.length !== HEADER_BYTES || magic !== FILE_MAGIC || header[4] !== FILE_FORMAT_VERSION) {
    throw new FileIntegrityError(vaultId, fileId, undefined, 'the header is not a haex-sync file header of format 1');
  }
  const chunkSize = readU32(header, 9);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new FileIntegrityError(vaultId, fileId, undefined, 'the header names an impossible chunk size');
  }
  return { generation: readU32(header, 5), chunkSize };
}

/** Unwraps a header's file key with the vault key of its generation (`keyFor`, e.g. KeyRing.keyFor). */
export async function openFileKey(vaultId: string, fileId: string, header: Uint8Array,
  keyFor: (generation: number) => Promise<CryptoKey>): Promise<FileKey> {
  const { generation, chunkSize } = parseHeader(vaultId, fileId, header);
  const vaultKey = await keyFor(generation);
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = new Uint8Array(await subtle().decrypt(
      { name: 'AES-GCM', iv: header.slice(13, 13 + NONCE_BYTES), additionalData: fileKeyAad(vaultId, fileId, generation, chunkSize) },
      vaultKey, header.slice(13 + NONCE_BYTES)));
  } catch (cause) {
    throw new FileIntegrityError(vaultId, fileId, undefined, 'the header\'s file key does not authenticate (altered, or another file\'s)', { cause });
  }
  try {
    return { vaultId, fileId, generation, chunkSize, key: await importFileKey(raw) };
  } finally {
    raw.fill(0);
  }
}

/** Seals chunk `index` (`last`: it ends the file). `plain` is at most chunkSize bytes. */
export async function sealChunk(fileKey: FileKey, index: number, last: boolean, plain: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  if (plain.length > fileKey.chunkSize || (!last && plain.length !== fileKey.chunkSize)) {
    throw new UsageError(`chunk ${index} must hold ${last ? `at most` : 'exactly'} ${fileKey.chunkSize} bytes`);
  }
  if (!Number.isInteger(index) || index < 0 || index > MAX_CHUNKS) throw new UsageError('a file has at most 2^32 - 1 chunks');
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = await subtle().encrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: chunkAad(fileKey.vaultId, fileKey.fileId, index, last) }, fileKey.key, plain);
  const out = new Uint8Array(NONCE_BYTES + sealed.byteLength);
  out.set(nonce);
  out.set(new Uint8Array(sealed), NONCE_BYTES);
  return out;
}

/** Opens chunk `index`; FileIntegrityError when it does not authenticate as that chunk (with that last flag). */
export async function openChunk(fileKey: FileKey, index: number, last: boolean, sealed: Uint8Array): Promise<Uint8Array> {
  const fail = (reason: string, cause?: unknown) => new FileIntegrityError(fileKey.vaultId, fileKey.fileId, index, reason, { cause });
  if (sealed.length < CHUNK_OVERHEAD) throw fail('the chunk is shorter than its nonce and tag');
  if (sealed.length > fileKey.chunkSize + CHUNK_OVERHEAD) throw fail('the chunk is longer than the chunk size');
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await subtle().decrypt(
      { name: 'AES-GCM', iv: sealed.slice(0, NONCE_BYTES), additionalData: chunkAad(fileKey.vaultId, fileKey.fileId, index, last) },
      fileKey.key, sealed.subarray(NONCE_BYTES) as Uint8Array<ArrayBuffer>));
  } catch (cause) {
    throw fail(last ? 'it does not authenticate as this file\'s last chunk (altered, moved or the file cut short)'
      : 'it does not authenticate as this chunk (altered, moved, or not followed by the rest of the file)', cause);
  }
  if (!last && plain.length !== fileKey.chunkSize) throw fail('a chunk before the last one is not full');
  return plain;
}

/** Sealed size of chunk `index` of a file of `size` plaintext bytes (for resume and accounting). */
export function sealedChunkSize(size: number, chunkSize: number, index: number): number {
  const count = chunkCount(size, chunkSize);
  if (index >= count) throw new RangeError('no such chunk');
  const plain = index < count - 1 ? chunkSize : size - (count - 1) * chunkSize;
  return plain + CHUNK_OVERHEAD;
}

/** Chunks of a file of `size` bytes (an empty file is one empty chunk). */
export const chunkCount = (size: number, chunkSize: number) => Math.max(1, Math.ceil(size / chunkSize));
