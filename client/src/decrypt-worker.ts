/**
 * AES-GCM of a pulled page in a worker thread (issue 25, item 4), so that the thread which fetches
 * and parses the next page is not the one decrypting this page.
 *
 * Split of work: everything that decides whether a log is well-formed and what error it gets (field
 * checks, AAD, base64, UTF-8, JSON, LogDecryptionError) stays in log-crypto.ts on the calling thread;
 * the worker only runs the cipher, one batch per page, so both paths give the same plaintexts and
 * the same errors by construction. Its source is the string WORKER_SOURCE below (no file of its
 * own): it survives any bundler or transpiler, needs no loader for TypeScript, and ships inside the
 * package's own module.
 *
 * Message (calling thread -> worker): { id, keyId, key?: CryptoKey, slab: Uint8Array, entries: Int32Array }
 *   key: only the first time this key (keyId) is used, or again after the worker dropped it (it keeps
 *   the MAX_WORKER_KEYS most recently sent; the calling thread mirrors that set in message order).
 *   entries: per log 5 integers: nonceAt, aadAt, aadLength, sealedAt, sealedLength (offsets in
 *   slab; the nonce is 12 bytes; sealed = ciphertext || 16-byte tag). The slab is copied by
 *   postMessage (the calling thread keeps its own, for the in-thread fallback).
 * Answer (worker -> calling thread): { id, plain: Uint8Array, ends: Int32Array, errors }
 *   plaintext i = plain[ends[i-1] .. ends[i]) (ends[-1] = 0); errors: null when every log
 *   authenticated, else per log null or the cipher's message. `plain` is transferred, not copied.
 *   { id, fatal: message } when the batch itself could not run.
 *
 * The key: a CryptoKey is structured-cloneable (browsers, Deno, Node >= 17: the clone keeps its
 * algorithm, usages and extractable flag), so a non-extractable vault key is never exported to send
 * it. Node: worker_threads, node:crypto (createDecipheriv with KeyObject.from(key), as
 * aes-gcm-node.ts); browsers and Deno: a module Worker from a Blob URL, WebCrypto.
 *
 * When: only where the runtime has a core to spare, which takes three (Node: os.availableParallelism()
 * >= 3; browsers: navigator.hardwareConcurrency >= 3): on two cores the calling thread, the runtime's
 * own threads (GC, network) and whatever else runs there leave the worker no core of its own
 * (measured: a new device on two cores with the server local, 47,817 logs/s with the worker against
 * 54,416 in-thread in the same run, `npm run bench` W4 of 2026-12-07). HAEX_SYNC_DECRYPT_WORKER=1
 * uses it whatever the core count, =0 never. And a page has at least MIN_WORKER_LOGS logs (a worker
 * round trip costs more than decrypting a few logs). Not in Deno, whose Workers keep the process alive.
 * One worker per process, started on first use, which does not keep a Node process alive while idle. If it cannot start or dies (CSP forbidding Blob
 * workers, a key that does not clone, an out-of-memory worker), the pending and all later pages are
 * decrypted in-thread: a worker failure never fails a pull.
 */

export const MIN_WORKER_LOGS = 32;
/** Keys a worker holds at most (the oldest sent is dropped first); the calling thread mirrors the set. */
const MAX_WORKER_KEYS = 16;
/** Integers per log in `entries`. */
export const ENTRY_INTS = 5;

export interface WorkerPage {
  plain: Uint8Array;
  ends: Int32Array;
  errors: Array<string | null> | null;
}

export interface PageWorker {
  /** Decrypts a batch; rejects only when the worker is unavailable (then decrypt in-thread). */
  decrypt(key: CryptoKey, slab: Uint8Array, entries: Int32Array): Promise<WorkerPage>;
}

/** The worker's program: plain JavaScript for both Node's worker_threads (eval) and web module Workers. */
const WORKER_SOURCE = String.raw`
const TAG = 16;
const isNode = typeof require === 'function';
const nodeCrypto = isNode ? require('node:crypto') : null;
const port = isNode ? require('node:worker_threads').parentPort : self;
function pack(count, entries, plains, errors) {
  let total = 0;
  for (const p of plains) total += p ? p.length : 0;
  const plain = new Uint8Array(total);
  const ends = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const p = plains[i];
    if (p) { plain.set(p, at); at += p.length; }
    ends[i] = at;
  }
  return { plain, ends, errors };
}
function fields(slab, entries, i) {
  const b = i * ${ENTRY_INTS};
  const sealedAt = entries[b + 3], sealedLength = entries[b + 4];
  return {
    nonce: slab.subarray(entries[b], entries[b] + 12), aad: slab.subarray(entries[b + 1], entries[b + 1] + entries[b + 2]),
    sealed: slab.subarray(sealedAt, sealedAt + sealedLength),
  };
}
// The keys this worker was sent, by id; the calling thread mirrors it (same insertions and evictions,
// in message order), so it knows which keys it need not send again.
const keys = new Map();
function keyFor(keyId, key) {
  if (key !== undefined) {
    keys.set(keyId, isNode ? { key, keyObject: nodeCrypto.KeyObject.from(key) } : { key });
    if (keys.size > ${MAX_WORKER_KEYS}) keys.delete(keys.keys().next().value);
  }
  const known = keys.get(keyId);
  if (!known) throw new Error('decrypt worker: unknown key ' + keyId);
  return known;
}
function runNode({ key, keyObject }, slab, entries, count) {
  const algorithm = 'aes-' + ((key.algorithm && key.algorithm.length) || 256) + '-gcm';
  const plains = new Array(count);
  let errors = null;
  for (let i = 0; i < count; i++) {
    const { nonce, aad, sealed } = fields(slab, entries, i);
    try {
      if (sealed.length < TAG) throw new Error('ciphertext shorter than its tag');
      const decipher = nodeCrypto.createDecipheriv(algorithm, keyObject, nonce, { authTagLength: TAG });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
      const head = decipher.update(sealed.subarray(0, sealed.length - TAG));
      const tail = decipher.final();
      plains[i] = tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch (error) {
      (errors || (errors = new Array(count).fill(null)))[i] = String((error && error.message) || error);
    }
  }
  return pack(count, entries, plains, errors);
}
async function runWeb({ key }, slab, entries, count) {
  const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => {
    const { nonce, aad, sealed } = fields(slab, entries, i);
    return crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, key, sealed);
  }));
  let errors = null;
  const plains = settled.map((s, i) => {
    if (s.status === 'fulfilled') return new Uint8Array(s.value);
    (errors || (errors = new Array(count).fill(null)))[i] = String((s.reason && s.reason.message) || s.reason);
    return null;
  });
  return pack(count, entries, plains, errors);
}
const onMessage = async (message) => {
  const { id, keyId, key, slab, entries } = message;
  try {
    const count = entries.length / ${ENTRY_INTS};
    const known = keyFor(keyId, key);
    const answer = isNode ? runNode(known, slab, entries, count) : await runWeb(known, slab, entries, count);
    port.postMessage({ id, ...answer }, [answer.plain.buffer]);
  } catch (error) {
    port.postMessage({ id, fatal: String((error && error.message) || error) });
  }
};
if (isNode) port.on('message', onMessage); else port.onmessage = (event) => onMessage(event.data);
`;

interface Endpoint {
  post(message: unknown): void;
  /** Node: keeps the process alive while a batch is pending; no-op on the web. */
  busy(pending: boolean): void;
}

type Proc = { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> };
const proc = () => (globalThis as { process?: Proc }).process;

/** Cores a runtime needs before the worker gets one of its own (see the module doc). */
export const MIN_CORES_FOR_WORKER = 3;

/** True where the runtime reports at least MIN_CORES_FOR_WORKER cores. */
export function hasFreeCore(): boolean {
  try {
    const os = proc()?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus: () => unknown[] } | undefined;
    if (os) return (os.availableParallelism?.() ?? os.cpus().length) >= MIN_CORES_FOR_WORKER;
  } catch { /* not Node */ }
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof cores === 'number' && cores >= MIN_CORES_FOR_WORKER;
}

function startEndpoint(onMessage: (data: unknown) => void, onFailure: (error: unknown) => void): Endpoint {
  const WebWorker = (globalThis as { Worker?: new (url: string, options?: { type?: string }) => {
    postMessage(message: unknown): void; onmessage: ((event: { data: unknown }) => void) | null;
    onerror: ((event: unknown) => void) | null; onmessageerror: ((event: unknown) => void) | null;
  } }).Worker;
  if (typeof WebWorker === 'function') { // browsers, Deno
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const worker = new WebWorker(url, { type: 'module' });
    worker.onmessage = (event) => onMessage(event.data);
    worker.onerror = (event) => onFailure((event as { message?: string }).message ?? event);
    worker.onmessageerror = (event) => onFailure(event);
    return { post: (message) => worker.postMessage(message), busy: () => {} };
  }
  const threads = proc()?.getBuiltinModule?.('node:worker_threads') as typeof import('node:worker_threads') | undefined;
  if (!threads?.Worker) throw new Error('no worker support in this runtime');
  // No execArgv: the worker runs plain JavaScript and needs none of the app's loaders (tsx, ...).
  const worker = new threads.Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  worker.unref();
  worker.on('message', onMessage);
  worker.on('error', onFailure);
  worker.on('messageerror', onFailure);
  worker.on('exit', (code) => onFailure(new Error(`decrypt worker exited with ${code}`)));
  return { post: (message) => worker.postMessage(message), busy: (pending) => (pending ? worker.ref() : worker.unref()) };
}

class WorkerHost implements PageWorker {
  #endpoint: Endpoint | undefined;
  #failed = false;
  #nextId = 1;
  #nextKeyId = 1;
  readonly #keyIds = new WeakMap<CryptoKey, number>();
  /** The worker's key set, mirrored: ids in the order they were sent. */
  readonly #sentKeys = new Set<number>();
  readonly #pending = new Map<number, { resolve: (page: WorkerPage) => void; reject: (error: unknown) => void }>();

  get failed(): boolean { return this.#failed; }

  decrypt(key: CryptoKey, slab: Uint8Array, entries: Int32Array): Promise<WorkerPage> {
    if (this.#failed) return Promise.reject(new Error('decrypt worker unavailable'));
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      try {
        this.#endpoint ??= startEndpoint((data) => this.#answer(data), (error) => this.#fail(error));
        let keyId = this.#keyIds.get(key);
        if (keyId === undefined) this.#keyIds.set(key, keyId = this.#nextKeyId++);
        // Cloning a CryptoKey costs ~2 µs per log of a page on Node 20: send each key once, then its id.
        const send = !this.#sentKeys.has(keyId);
        this.#endpoint.post(send ? { id, keyId, key, slab, entries } : { id, keyId, slab, entries });
        if (send) {
          this.#sentKeys.add(keyId);
          if (this.#sentKeys.size > MAX_WORKER_KEYS) this.#sentKeys.delete(this.#sentKeys.values().next().value!);
        }
        this.#pending.set(id, { resolve, reject });
        this.#endpoint.busy(true);
      } catch (error) { // no worker here, or a key that does not clone: this page and all later in-thread
        this.#pending.delete(id);
        this.#fail(error);
        reject(error);
      }
    });
  }

  #answer(data: unknown): void {
    const answer = data as { id: number; fatal?: string } & WorkerPage;
    const pending = this.#pending.get(answer.id);
    if (!pending) return;
    this.#pending.delete(answer.id);
    if (this.#pending.size === 0) this.#endpoint?.busy(false);
    if (answer.fatal !== undefined) pending.reject(new Error(answer.fatal));
    else pending.resolve({ plain: answer.plain, ends: answer.ends, errors: answer.errors });
  }

  #fail(error: unknown): void {
    this.#failed = true;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#endpoint?.busy(false);
    for (const p of pending) p.reject(error);
  }
}

let shared: WorkerHost | undefined;

/**
 * The process's decrypt worker, or undefined where it would not help (fewer than
 * MIN_CORES_FOR_WORKER cores, unless HAEX_SYNC_DECRYPT_WORKER=1) or is turned off
 * (`HAEX_SYNC_DECRYPT_WORKER=0`), or after it failed.
 */
export function sharedPageWorker(): PageWorker | undefined {
  if (shared) return shared.failed ? undefined : shared;
  const setting = proc()?.env?.HAEX_SYNC_DECRYPT_WORKER;
  if (setting === '0' || (setting !== '1' && !hasFreeCore())) return undefined;
  // Deno: a Worker keeps the process alive until terminated (no unref that Deno honours reliably),
  // so a script that pulled would never exit; decrypt in-thread there. (The web path below is the
  // browsers'; Deno's Worker runs it correctly, which is how it is tested.)
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) return undefined;
  shared = new WorkerHost();
  return shared;
}

/** A worker of its own (tests: no state shared with other pulls of the process). */
export function newPageWorker(): PageWorker { return new WorkerHost(); }
