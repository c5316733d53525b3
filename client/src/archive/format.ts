/**
 * Vault archives (export and restore, docs/export.md): the file's header, its keys and its STREAM of
 * authenticated chunks. The records inside the stream are records.ts'.
 *
 * Wire format, version 1 (all integers big-endian):
 *
 *   header (94 bytes)
 *     magic "HXSA" (4) | format version 0x01 (1) | KDF id 0x01 = PBKDF2-HMAC-SHA256 (1) |
 *     iterations (u32) | salt (32) | archive id (16 random bytes) | chunk size (u32) |
 *     header MAC (32) = HMAC-SHA256(K_header, the 62 bytes before it)
 *   payload: chunks 0..n-1, each AES-256-GCM(K_payload, nonce_i, plaintext_i, aad = the 94 header bytes)
 *     = ciphertext || 16-byte tag; nonce_i = i as 11-byte big-endian counter || last flag (1 byte:
 *     0x01 for chunk n-1, else 0x00). Every plaintext_i holds exactly `chunk size` bytes except the
 *     last, which holds 1..chunk size bytes. Nothing follows the last chunk.
 *
 *   master    = PBKDF2-HMAC-SHA256(UTF-8 of NFC(password), salt, iterations, 256 bits)
 *   K_x       = HKDF-SHA256(ikm = master, salt = archive id, info = "haex-sync/archive/v1/" x), 256 bits,
 *               for x = "header" (HMAC key), "payload" (AES-GCM key), "import" (the restore's
 *               temporary vault password, import.ts), "vault-id/<n>" (restore vault ids, import.ts)
 *
 * Invariants and choices:
 * - KDF strength is the vault password's (vault-key.ts: PBKDF2-SHA256, 600,000 iterations, 32-byte
 *   salt); a writer always uses PBKDF2_ITERATIONS, a reader accepts 600,000..10,000,000 (a future
 *   version may raise it; the cap stops a forged header from hanging the reader).
 * - The header MAC is checked before any chunk: a wrong password fails there (WrongPasswordError),
 *   before anything else happens. A header altered by someone without the password fails the same
 *   way (the two cannot be told apart without the password).
 * - STREAM as in age: the nonce counts chunks and flags the last one, so a reordered, dropped,
 *   duplicated or altered chunk, a cut at a chunk boundary (the new last chunk was sealed as not
 *   last) and appended chunks or bytes all fail: ArchiveIntegrityError, never plaintext. The header
 *   is every chunk's AAD, so chunks cannot be moved between archives either (each archive's keys
 *   differ anyway: fresh salt and archive id). Deterministic nonces are safe because K_payload is
 *   used for this one archive only.
 * - Bounded memory: a reader holds one sealed chunk (chunk size + 16 bytes) and its plaintext.
 *   Writers use 64 KiB; readers accept 1 KiB..16 MiB.
 */
import { HaexSyncError, UsageError, WrongPasswordError } from '../errors.ts';
import { randomBytes, subtle, utf8 } from '../encoding.ts';
import { PBKDF2_ITERATIONS } from '../vault-key.ts';

export const ARCHIVE_MAGIC = 'HXSA';
export const ARCHIVE_VERSION = 1;
export const KDF_PBKDF2_SHA256 = 1;
export const HEADER_BYTES = 94;
const MAC_OFFSET = HEADER_BYTES - 32;
export const SALT_BYTES = 32;
export const ARCHIVE_ID_BYTES = 16;
export const TAG_BYTES = 16;
export const DEFAULT_ARCHIVE_CHUNK = 64 * 1024;
export const MIN_ARCHIVE_CHUNK = 1024;
/** 16 MiB: the archive format's own bound on a chunk (a reader allocates at most this), not a server limit. */
export const MAX_ARCHIVE_CHUNK = 1 << 24;
export const MAX_ITERATIONS = 10_000_000;
/** Counter space of the 11-byte nonce counter is far beyond this; 2^53 keeps it a safe JS integer. */
const MAX_CHUNKS = Number.MAX_SAFE_INTEGER;

export type ArchiveFailure = 'not_an_archive' | 'unsupported_version' | 'truncated' | 'tampered' | 'trailing_data' | 'malformed';

/**
 * The archive is not an intact haex-sync archive: `reason` says how (`not_an_archive`: another kind of
 * file; `unsupported_version`; `truncated`: it ends before its last chunk; `tampered`: a chunk fails
 * authentication (altered, reordered, from another archive); `trailing_data`: bytes after the last
 * chunk; `malformed`: authenticated content that breaks the format). An import that meets it leaves
 * no vault behind (import.ts).
 */
export class ArchiveIntegrityError extends HaexSyncError {
  constructor(readonly reason: ArchiveFailure, detail: string, options?: { cause?: unknown }) {
    super(`not an intact haex-sync archive (${reason}): ${detail}`, options);
  }
}

export interface ArchiveHeader {
  bytes: Uint8Array<ArrayBuffer>;
  iterations: number;
  salt: Uint8Array<ArrayBuffer>;
  archiveId: Uint8Array<ArrayBuffer>;
  chunkSize: number;
}

/** The archive's keys, derived from the password (one PBKDF2 run, then HKDF). */
export interface ArchiveKeys {
  header: CryptoKey;
  payload: CryptoKey;
  /** HKDF output `x` (32 bytes) for the restore's needs ("import", "vault-id/<n>"). */
  derive(info: string): Promise<Uint8Array<ArrayBuffer>>;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const info = (x: string) => utf8(`haex-sync/archive/v1/${x}`);

export async function deriveArchiveKeys(password: string, header: Pick<ArchiveHeader, 'salt' | 'archiveId' | 'iterations'>): Promise<ArchiveKeys> {
  if (typeof password !== 'string' || password.length === 0) throw new UsageError('password must be a non-empty string');
  const material = await subtle().importKey('raw', utf8(password.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  const master = new Uint8Array(await subtle().deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: header.salt, iterations: header.iterations }, material, 256));
  const hkdf = await subtle().importKey('raw', master, 'HKDF', false, ['deriveKey', 'deriveBits']);
  master.fill(0);
  const params = (x: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: header.archiveId, info: info(x) });
  const [headerKey, payload] = await Promise.all([
    subtle().deriveKey(params('header'), hkdf, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']),
    subtle().deriveKey(params('payload'), hkdf, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
  ]);
  return {
    header: headerKey, payload,
    derive: async (x) => new Uint8Array(await subtle().deriveBits(params(x), hkdf, 256)),
  };
}

/** A new header (fresh salt and archive id, the vault password's KDF strength) and its keys. */
export async function newArchiveHeader(password: string, chunkSize = DEFAULT_ARCHIVE_CHUNK): Promise<{ header: ArchiveHeader; keys: ArchiveKeys }> {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_ARCHIVE_CHUNK || chunkSize > MAX_ARCHIVE_CHUNK) {
    throw new UsageError(`archive chunk size must be ${MIN_ARCHIVE_CHUNK}..${MAX_ARCHIVE_CHUNK}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const archiveId = randomBytes(ARCHIVE_ID_BYTES);
  const keys = await deriveArchiveKeys(password, { salt, archiveId, iterations: PBKDF2_ITERATIONS });
  const bytes = new Uint8Array(HEADER_BYTES);
  bytes.set(utf8(ARCHIVE_MAGIC));
  bytes[4] = ARCHIVE_VERSION;
  bytes[5] = KDF_PBKDF2_SHA256;
  view(bytes).setUint32(6, PBKDF2_ITERATIONS);
  bytes.set(salt, 10);
  bytes.set(archiveId, 42);
  view(bytes).setUint32(58, chunkSize);
  bytes.set(new Uint8Array(await subtle().sign('HMAC', keys.header, bytes.subarray(0, MAC_OFFSET))), MAC_OFFSET);
  return { header: { bytes, iterations: PBKDF2_ITERATIONS, salt, archiveId, chunkSize }, keys };
}

/** Parses a header's fields (not yet authenticated: openArchiveHeader checks its MAC). */
export function parseArchiveHeader(bytes: Uint8Array): ArchiveHeader {
  if (bytes.length < 4 || String.fromCharCode(...bytes.subarray(0, 4)) !== ARCHIVE_MAGIC) {
    throw new ArchiveIntegrityError('not_an_archive', 'it does not start with a haex-sync archive header');
  }
  if (bytes[4] !== ARCHIVE_VERSION) throw new ArchiveIntegrityError('unsupported_version', `format version ${bytes[4]}; this client reads 1`);
  if (bytes[5] !== KDF_PBKDF2_SHA256) throw new ArchiveIntegrityError('unsupported_version', `unknown KDF ${bytes[5]}`);
  if (bytes.length < HEADER_BYTES) throw new ArchiveIntegrityError('truncated', 'the archive ends inside its header');
  const copy = bytes.slice(0, HEADER_BYTES);
  const iterations = view(copy).getUint32(6);
  const chunkSize = view(copy).getUint32(58);
  if (iterations < PBKDF2_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new ArchiveIntegrityError('malformed', `KDF iterations ${iterations} outside ${PBKDF2_ITERATIONS}..${MAX_ITERATIONS}`);
  }
  if (chunkSize < MIN_ARCHIVE_CHUNK || chunkSize > MAX_ARCHIVE_CHUNK) throw new ArchiveIntegrityError('malformed', `chunk size ${chunkSize}`);
  return { bytes: copy, iterations, salt: copy.slice(10, 42), archiveId: copy.slice(42, 58), chunkSize };
}

/** Derives the keys and checks the header's MAC: WrongPasswordError when it does not verify. */
export async function openArchiveHeader(header: ArchiveHeader, password: string): Promise<ArchiveKeys> {
  const keys = await deriveArchiveKeys(password, header);
  const ok = await subtle().verify('HMAC', keys.header, header.bytes.subarray(MAC_OFFSET), header.bytes.subarray(0, MAC_OFFSET));
  if (!ok) {
    const error = new WrongPasswordError(archiveIdText(header.archiveId));
    error.message = `wrong password for this archive (or its header was altered)`;
    throw error;
  }
  return keys;
}

/** The archive id as a UUID-shaped text (for messages and docs; it is random, not a UUID). */
export const archiveIdText = (id: Uint8Array): string => {
  const hex = [...id].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

function chunkNonce(index: number, last: boolean): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_CHUNKS) throw new RangeError('chunk counter out of range');
  const nonce = new Uint8Array(12);
  view(nonce).setUint32(3, Math.floor(index / 2 ** 32));
  view(nonce).setUint32(7, index >>> 0);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * Writes the payload as STREAM chunks: `write(bytes)` buffers and emits every full chunk (sealed, not
 * last) through `emit`; `finish()` seals what is left as the last chunk. Holds at most one chunk.
 */
export class ChunkSealer {
  #buffer: Uint8Array<ArrayBuffer>;
  #filled = 0;
  #index = 0;
  #finished = false;
  constructor(private readonly header: ArchiveHeader, private readonly key: CryptoKey,
    private readonly emit: (sealed: Uint8Array) => void | Promise<void>) {
    this.#buffer = new Uint8Array(header.chunkSize);
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      // A full buffer is sealed only once more bytes arrive: only finish() knows which chunk is last.
      if (this.#filled === this.#buffer.length) await this.#seal(false);
      const n = Math.min(this.#buffer.length - this.#filled, bytes.length - at);
      this.#buffer.set(bytes.subarray(at, at + n), this.#filled);
      this.#filled += n;
      at += n;
    }
  }

  async finish(): Promise<void> {
    if (this.#finished) return;
    if (this.#filled === 0) throw new UsageError('an archive payload is never empty');
    await this.#seal(true);
    this.#finished = true;
  }

  async #seal(last: boolean): Promise<void> {
    const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: chunkNonce(this.#index, last), additionalData: this.header.bytes },
      this.key, this.#buffer.subarray(0, this.#filled));
    this.#index++;
    this.#filled = 0;
    await this.emit(new Uint8Array(sealed));
  }
}

/** Turns the three accepted inputs into an async iterator of byte pieces (no copy of the whole). */
export async function* bytesOf(data: Uint8Array | Blob | ReadableStream<Uint8Array>, piece = 1024 * 1024): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    for (let at = 0; at < data.length; at += piece) yield data.subarray(at, Math.min(at + piece, data.length));
    return;
  }
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    for (let at = 0; at < data.size; at += piece) yield new Uint8Array(await data.slice(at, at + piece).arrayBuffer());
    return;
  }
  if (!data || typeof (data as ReadableStream).getReader !== 'function') {
    throw new UsageError('archive data must be a Uint8Array, a Blob or a ReadableStream<Uint8Array>');
  }
  const reader = (data as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (!(value instanceof Uint8Array)) throw new UsageError('the archive stream must yield Uint8Array chunks');
      if (value.length > 0) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Reads exactly-sized pieces from a byte iterator, knowing whether the input has ended. */
export class ByteReader {
  #pending: Uint8Array = new Uint8Array(0);
  #ended = false;
  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Up to `n` bytes (fewer only at the end of the input). */
  async read(n: number): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#pending.length === 0 && !(await this.#more())) break;
      const take = Math.min(n - filled, this.#pending.length);
      out.set(this.#pending.subarray(0, take), filled);
      this.#pending = this.#pending.subarray(take);
      filled += take;
    }
    return filled === n ? out : out.slice(0, filled);
  }

  /** Whether no byte follows. */
  async atEnd(): Promise<boolean> {
    return this.#pending.length === 0 && !(await this.#more());
  }

  async #more(): Promise<boolean> {
    while (!this.#ended) {
      const { done, value } = await this.source.next();
      if (done) { this.#ended = true; return false; }
      if (value.length > 0) { this.#pending = value; return true; }
    }
    return false;
  }
}

/** Reads the header of an archive (not yet authenticated). */
export async function readArchiveHeader(reader: ByteReader): Promise<ArchiveHeader> {
  return parseArchiveHeader(await reader.read(HEADER_BYTES));
}

/**
 * Opens the payload's chunks in order, yielding each plaintext: ArchiveIntegrityError on any chunk
 * that fails, on an input that ends before a last chunk (`truncated`), or on bytes after it.
 */
export async function* openChunks(reader: ByteReader, header: ArchiveHeader, key: CryptoKey): AsyncGenerator<Uint8Array> {
  const sealedSize = header.chunkSize + TAG_BYTES;
  for (let index = 0; ; index++) {
    const sealed = await reader.read(sealedSize);
    if (sealed.length === 0) throw new ArchiveIntegrityError('truncated', `the archive ends before its last chunk (after ${index} chunks)`);
    // A short chunk can only be the last; a full one is the last only if nothing follows it.
    const last = sealed.length < sealedSize || await reader.atEnd();
    if (sealed.length <= TAG_BYTES) throw new ArchiveIntegrityError('truncated', `chunk ${index} is cut short`);
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: chunkNonce(index, last), additionalData: header.bytes }, key, sealed));
    } catch (cause) {
      // Authentic under the other flag: a cut at a chunk boundary, or bytes appended after the last chunk.
      const otherFlag = await subtle().decrypt({ name: 'AES-GCM', iv: chunkNonce(index, !last), additionalData: header.bytes }, key, sealed)
        .then(() => true, () => false);
      if (otherFlag && last) throw new ArchiveIntegrityError('truncated', `the archive ends after chunk ${index}, which is not its last`);
      if (otherFlag) throw new ArchiveIntegrityError('trailing_data', `bytes follow chunk ${index}, the archive's last`);
      throw new ArchiveIntegrityError('tampered', `chunk ${index} does not authenticate (altered, reordered or from another archive)`, { cause });
    }
    yield plain;
    if (last) return;
  }
}

/**
 * The archive as a byte stream: the header, then the sealed chunks of the records `records` yields,
 * produced as the consumer reads (backpressure: nothing is read from `records` ahead of demand beyond
 * one chunk). An error of `records` errors the stream; cancelling it ends `records`.
 */
export function sealArchive(header: ArchiveHeader, keys: ArchiveKeys, records: AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  const queue: Uint8Array[] = [header.bytes];
  const sealer = new ChunkSealer(header, keys.payload, (sealed) => { queue.push(sealed); });
  let ended = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (queue.length === 0 && !ended) {
        const { done, value } = await records.next();
        if (done) {
          await sealer.finish();
          ended = true;
        } else {
          await sealer.write(value);
        }
      }
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
    async cancel(reason) {
      await records.return?.(reason);
    },
  }, { highWaterMark: 1 });
}

/** Opens an archive: reads and authenticates its header (WrongPasswordError), then yields the payload's plaintext chunks. */
export async function openArchive(data: Uint8Array | Blob | ReadableStream<Uint8Array>, password: string):
  Promise<{ header: ArchiveHeader; keys: ArchiveKeys; chunks: AsyncGenerator<Uint8Array> }> {
  const reader = new ByteReader(bytesOf(data));
  const header = await readArchiveHeader(reader);
  const keys = await openArchiveHeader(header, password);
  return { header, keys, chunks: openChunks(reader, header, keys.payload) };
}
