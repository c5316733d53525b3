/**
 * A Vault's keys by generation (shared vaults). Holds the raw 32 bytes of each generation's key in
 * memory as well (to seal them to new members and to re-wrap the owner's copy); they never leave the
 * device unencrypted. `keyFor(g)` of a generation it does not hold asks `refresh` (the key grants
 * newer than what it holds) once and then answers or fails with MissingKeyError, or with the
 * UntrustedChangeError that refused that generation (sharing/chain.ts): a refused generation is never
 * used, and the ring keeps encrypting under its last verified one.
 */
import { HaexSyncError } from '../errors.ts';
import { importVaultKey } from '../vault-key.ts';

/** No key of this generation reached this device (no grant for this user, or no identity unlocked). */
export class MissingKeyError extends HaexSyncError {
  constructor(readonly vaultId: string, readonly generation: number, reason: string) {
    super(`vault ${vaultId}: no key of generation ${generation} (${reason})`);
  }
}

export class KeyRing {
  readonly #keys = new Map<number, { key: CryptoKey; raw: Uint8Array<ArrayBuffer> }>();
  #current = 0;
  readonly #refused = new Map<number, Error>();
  #refreshing: Promise<void> | undefined;

  /** `refresh(after)`: adds the keys of generations above `after` this user has grants for. */
  constructor(readonly vaultId: string, private readonly refreshFrom: (ring: KeyRing, after: number) => Promise<void>) {}

  get current(): number { return this.#current; }
  get generations(): number[] { return [...this.#keys.keys()].sort((a, b) => a - b); }

  async add(generation: number, raw: Uint8Array<ArrayBuffer>): Promise<void> {
    if (this.#keys.has(generation)) return;
    this.#keys.set(generation, { key: await importVaultKey(raw), raw: raw.slice() });
    this.#refused.delete(generation);
    if (generation > this.#current) this.#current = generation;
  }

  /** A generation whose key this device refused (it did not verify against the vault's signed chain). */
  refuse(generation: number, error: Error): void {
    if (!this.#keys.has(generation)) this.#refused.set(generation, error);
  }

  /** The newest generation this device has seen, held or refused. */
  get newestSeen(): number { return Math.max(this.#current, ...this.#refused.keys()); }

  /** Why the newest refused generation above `after` was refused, if one was. */
  refusal(after: number): Error | undefined {
    const newest = Math.max(...[...this.#refused.keys()].filter((g) => g > after), -1);
    return this.#refused.get(newest);
  }

  currentKey(): CryptoKey {
    const entry = this.#keys.get(this.#current);
    if (!entry) throw new MissingKeyError(this.vaultId, this.#current, 'the vault is not unlocked');
    return entry.key;
  }

  raw(generation: number): Uint8Array<ArrayBuffer> {
    const entry = this.#keys.get(generation);
    if (!entry) throw new MissingKeyError(this.vaultId, generation, 'not held');
    return entry.raw;
  }

  /** Fetches grants of generations newer than the newest held (one request at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.refreshFrom(this, this.#current).finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  async keyFor(generation: number): Promise<CryptoKey> {
    const held = this.#keys.get(generation);
    if (held) return held.key;
    if (generation > this.#current) await this.refresh();
    const fetched = this.#keys.get(generation);
    const refused = this.#refused.get(generation);
    if (!fetched && refused) throw refused;
    if (!fetched) throw new MissingKeyError(this.vaultId, generation, 'no grant of it for this user');
    return fetched.key;
  }
}
