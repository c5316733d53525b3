/**
 * Vault: an unlocked vault (push, pull, sync, live, compaction, sharing of this vault) and the
 * settings it shares with its HaexSyncClient (sync.ts). Split from sync.ts along the class seam;
 * the API and its invariants are described there.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { type CompactionOptions, CompactionScheduler } from './compaction.ts';
import type { DeviceRegistry } from './devices.ts';
import { ConflictError, UsageError } from './errors.ts';
import { type LiveOptions, type LiveSync, startLive } from './live.ts';
import type { Change, DecryptedLog, EncryptedLog } from './log-crypto.ts';
import { type PullOptions, type PullPage, pullPages } from './pull.ts';
import { supabaseFileBackend } from './files/backend.ts';
import * as fileOps from './files/files.ts';
import { type BatchOptions, encryptChanges, type PushOptions, pushEncrypted } from './push.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import { sharingApi } from './sharing/api.ts';
import type { UnlockedIdentity } from './sharing/identity.ts';
import { KeyRing } from './sharing/keyring.ts';
import type { ChainPins } from './sharing/trust.ts';
import { createInviteLink } from './sharing/links.ts';
import * as sharing from './sharing/members.ts';
import type { CompactResult, PushResult, SyncTransport, VaultKeyRecord } from './transport/types.ts';
import { rewrapVaultKey, type WrappedVaultKey } from './vault-key.ts';
import { exportArchive, type ExportArchiveOptions } from './archive/export.ts';

/** @internal The key, generation and device id a Vault seals new logs with (archive/import.ts); not exported by the package. */
export const sealingOf = Symbol('haex-sync.sealing');


export interface Settings {
  transport: SyncTransport;
  supabase: SupabaseClient<any, any, any> | undefined;
  deviceId: string | null;
  /** The session's device registration; undefined for a custom transport without devices. */
  devices: DeviceRegistry | undefined;
  retry: RetryPolicy;
  push: BatchOptions;
  pageSize: number | undefined;
  /** HaexSyncClientOptions.decryptWorker (undefined: the default). */
  decryptWorker?: boolean;
  autoCompact: boolean;
  compaction: CompactionOptions;
  /** Chunk size and parallel transfers of files (HaexSyncClientOptions.files). */
  files?: { chunkSize?: number; concurrency?: number };
  /** The user's unlocked identity (client.unlockIdentity), shared by the client and its Vaults. */
  sharing: { identity?: UnlockedIdentity; pins: ChainPins };
}

export interface SyncOptions {
  /** Last sequence this device applied (0 at first). */
  cursor: number;
  /** Changes made locally since the last sync (or already encrypted logs from `vault.encrypt`). */
  pending?: readonly Change[] | readonly EncryptedLog[];
  /** Applies one page of remote changes; awaited before the next page is fetched. */
  apply: (logs: DecryptedLog[], page: PullPage) => void | Promise<void>;
  /** Called with the new cursor after each applied page (persist it here). */
  onCursor?: (cursor: number) => void | Promise<void>;
  /** Hand this round's own pushed logs to `apply` too (default false). */
  includePushed?: boolean;
  pageSize?: number;
  signal?: AbortSignal;
}

export interface SyncResult {
  cursor: number;
  pushed: PushResult | undefined;
  applied: number;
}

export const isEncrypted = (value: Change | EncryptedLog): value is EncryptedLog =>
  typeof (value as EncryptedLog).encryptedData === 'string' && typeof (value as EncryptedLog).id === 'string';

/** Runs a write whose retry may meet its own first attempt's success as a 409: then `verify` decides. */
export async function writeOnce(retry: RetryPolicy, write: () => Promise<VaultKeyRecord>,
  verify: () => Promise<VaultKeyRecord | undefined>): Promise<VaultKeyRecord> {
  let attempts = 0;
  try {
    return await withRetry(() => { attempts++; return write(); }, retry);
  } catch (error) {
    if (error instanceof ConflictError && attempts > 1) {
      const mine = await verify();
      if (mine) return mine;
    }
    throw error;
  }
}

export const sameKey = (a: WrappedVaultKey, b: WrappedVaultKey) =>
  a.encryptedVaultKey === b.encryptedVaultKey && a.salt === b.salt && a.nonce === b.nonce;

/** The key ring of a vault unlocked with its password: its generation, newer ones from grants. */
export async function passwordRing(settings: Settings, vaultId: string, generation: number, raw: Uint8Array<ArrayBuffer>): Promise<KeyRing> {
  const ring = new KeyRing(vaultId, (r, after) =>
    settings.sharing.identity ? sharing.refreshGrants(r, after, sharingApi(settings.supabase), settings.sharing.identity, settings.sharing.pins)
      : Promise.resolve());
  await ring.add(generation, raw);
  raw.fill(0);
  return ring;
}

export class Vault {
  readonly #ring: KeyRing;
  #record: VaultKeyRecord | undefined;
  #password: string | undefined;
  readonly #s: Settings;
  /** Background compaction of this vault (started by pushes told `compactionDue`; stop() it on close). */
  readonly compaction: CompactionScheduler;

  /** @internal use HaexSyncClient.createVault / unlockVault / acceptInvite */
  constructor(ring: KeyRing, record: VaultKeyRecord | undefined, settings: Settings, password?: string) {
    this.#ring = ring;
    this.#record = record;
    this.#s = settings;
    this.#password = password;
    this.compaction = new CompactionScheduler(settings.transport, ring.vaultId, settings.compaction);
  }

  get vaultId(): string { return this.#ring.vaultId; }
  /** The key generation new changes are encrypted under (1 until the first rotation). */
  get keyGeneration(): number { return this.#ring.current; }
  /** The owner's password-wrapped key record as last read or written (its updatedAt is the version changePassword sends). */
  get keyRecord(): Readonly<VaultKeyRecord> {
    if (!this.#record) throw new UsageError('this Vault was opened through a key grant: it has no password-wrapped key');
    return this.#record;
  }

  /**
   * Encrypts changes and fixes their ids, e.g. to persist them with the app's pending queue. Each
   * log carries this session's device id (what the server stores as its device_id; devices.ts), so
   * push them from this session, and the vault's current key generation.
   */
  async encrypt(changes: readonly Change[]): Promise<EncryptedLog[]> {
    const device = this.#s.devices ? (await this.#s.devices.ensure()).id : undefined;
    const options = { deviceId: this.#s.deviceId, keyGeneration: this.#ring.current };
    if (device === undefined) return encryptChanges(this.#ring.currentKey(), this.vaultId, changes, options);
    return encryptChanges(this.#ring.currentKey(), this.vaultId, changes.map((c) => ({ ...c, deviceId: device })), options);
  }

  /** Encrypts (ids fixed before the first attempt), batches and pushes with retries. */
  async push(changes: readonly Change[] | readonly EncryptedLog[], options: Omit<PushOptions, 'retry'> = {}):
    Promise<PushResult> {
    const encrypted = changes.every((c) => isEncrypted(c as Change | EncryptedLog));
    const logs = encrypted ? changes as readonly EncryptedLog[] : await this.encrypt(changes as readonly Change[]);
    // The server stores the session's device id as device_id: a log encrypted with another one
    // (another session's) would no longer authenticate, so it is refused here (devices.ts).
    const device = this.#s.devices ? (await this.#s.devices.ensure()).id : undefined;
    const foreign = device === undefined ? undefined : logs.find((l) => (l.deviceId ?? null) !== device);
    if (foreign) {
      throw new UsageError(`log ${foreign.id} was encrypted for device ${foreign.deviceId ?? '(none)'}, not this session's `
        + `device ${device}: encrypt its change again with vault.encrypt() in this session`);
    }
    let result: PushResult;
    try {
      result = await pushEncrypted(this.#s.transport, this.vaultId, logs, { ...this.#s.push, ...options, retry: this.#s.retry });
    } catch (error) {
      // The key rotated: fetch the new generation's grant and push the changes again under it (same
      // ids, so logs an earlier batch stored come back as duplicates). Already encrypted logs cannot be.
      if (encrypted || !(error instanceof ConflictError && error.code === 'stale_key_generation')) throw error;
      const before = this.#ring.current;
      await this.#ring.refresh();
      // Not advanced: the new generation did not verify against the signed chain (UntrustedChangeError) or never came.
      if (this.#ring.current === before) throw this.#ring.refusal(before) ?? error;
      result = await pushEncrypted(this.#s.transport, this.vaultId, await this.encrypt(logs.map((l, i) =>
        ({ ...(changes as readonly Change[])[i]!, id: l.id }))), { ...this.#s.push, ...options, retry: this.#s.retry });
    }
    // In the background: the push is stored and returns now (the run's end is never a rejection).
    if (result.compactionDue && this.#s.autoCompact) void this.compaction.schedule();
    return result;
  }

  /**
   * Removes this vault's superseded logs on the server now, in the foreground (compact_logs; logs
   * pushed with a change `key`): calls again while the server answers `more` (each call resumes),
   * at most `maxSteps` calls. Answers at once with status `busy` when another compaction runs.
   * Returns the logs removed by all calls and the last call's state. Devices at any cursor still
   * converge (pulls skip compacted sequences).
   */
  async compact(options: { maxSteps?: number } = {}): Promise<CompactResult> {
    let removed = 0;
    let step: CompactResult | undefined;
    for (let i = 0; i < (options.maxSteps ?? 1_000); i++) {
      step = await withRetry(() => this.#s.transport.compact(this.vaultId), this.#s.retry);
      removed += step.removed;
      if (step.status !== 'more') break;
    }
    return { ...step!, removed };
  }

  /** Decrypted pages after `afterSequence`, one at a time. */
  pull(afterSequence = 0, options: Omit<PullOptions, 'afterSequence' | 'retry'> = {}): AsyncGenerator<PullPage, void, undefined> {
    return pullPages(this.#s.transport, (generation) => this.#ring.keyFor(generation), this.vaultId,
      { pageSize: this.#s.pageSize, decryptWorker: this.#s.decryptWorker, ...options, afterSequence, retry: this.#s.retry });
  }

  /** Push `pending`, then pull and apply everything after `cursor`. Returns the new cursor. */
  async sync(options: SyncOptions): Promise<SyncResult> {
    let pushed: PushResult | undefined;
    const pending = options.pending ?? [];
    if (pending.length > 0) pushed = await this.push(pending, { signal: options.signal });
    const own = new Set(options.includePushed ? [] : pushed?.logs.map((l) => l.id) ?? []);
    let cursor = options.cursor;
    let applied = 0;
    for await (const page of this.pull(cursor, { pageSize: options.pageSize, signal: options.signal })) {
      const logs = own.size === 0 ? page.logs : page.logs.filter((l) => !own.has(l.id));
      await options.apply(logs, page);
      applied += logs.length;
      cursor = page.nextSequence;
      await options.onCursor?.(cursor);
    }
    return { cursor, pushed, applied };
  }

  /** Live sync: pulls on every push's Realtime poke, with catch-up and periodic checks (live.ts). */
  live(options: LiveOptions): LiveSync {
    return startLive(this, options.supabase ?? this.#s.supabase, options);
  }

  /**
   * Re-wraps the vault key under `newPassword` (fresh salt and nonce) and stores it only if the
   * server's record is still the one this Vault last read (else ConflictError: another device changed
   * it; unlock again). WrongPasswordError if `oldPassword` is wrong. The vault key itself (and so
   * every log) is unchanged.
   */
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    const wrapped = await rewrapVaultKey(this.vaultId, this.keyRecord, oldPassword, newPassword);
    const transport = this.#s.transport;
    this.#record = await writeOnce(this.#s.retry,
      () => transport.updateVaultKey(this.vaultId, wrapped, this.keyRecord.updatedAt),
      async () => {
        const now = await transport.getVaultKey(this.vaultId);
        return sameKey(now, wrapped) ? now : undefined;
      });
    // A later key rotation re-wraps the owner's copy with this password (sharing/members.ts), so it must be the new one.
    this.#password = newPassword;
  }

  // --- files (files/files.ts, docs/files.md) ----------------------------------------------------------

  #files(): fileOps.FilesContext {
    const ring = this.#ring;
    return {
      vaultId: this.vaultId, backend: supabaseFileBackend(this.#s.supabase), ...this.#s.files,
      currentKey: () => ({ key: ring.currentKey(), generation: ring.current }), keyFor: (g) => ring.keyFor(g),
    };
  }

  /** Encrypts and uploads a file (chunked, streaming, resumable with the same fileId); resolves its fileId and plaintext size. */
  putFile(data: fileOps.FileData, options?: fileOps.PutFileOptions): Promise<{ fileId: string; size: number }> {
    return fileOps.putFile(this.#files(), data, options);
  }
  /** The file's plaintext (NotFoundError if absent, FileIntegrityError if any chunk fails authentication). */
  getFile(fileId: string, options?: { signal?: AbortSignal }): Promise<Uint8Array> { return fileOps.getFile(this.#files(), fileId, options); }
  /** A stream of the file's plaintext, decrypted and authenticated as it downloads. */
  openFile(fileId: string, options?: { signal?: AbortSignal }): Promise<ReadableStream<Uint8Array>> {
    return fileOps.openFile(this.#files(), fileId, options);
  }
  /** Deletes the file for every device (resumable: call again after an interruption). */
  deleteFile(fileId: string): Promise<void> { return fileOps.deleteFile(this.#files(), fileId); }
  /** The vault's files: { fileId, size, createdAt }, oldest first. */
  files(): Promise<fileOps.FileInfo[]> { return fileOps.files(this.#files()); }
  /** Removes the files the app no longer references (`live`: the fileIds its data still names). */
  compactFiles(options: fileOps.CompactFilesOptions): Promise<{ removed: string[]; more: boolean }> {
    return fileOps.compactFiles(this.#files(), options);
  }

  // --- export (archive/export.ts, docs/export.md) -------------------------------------------------

  /**
   * The vault as one archive sealed under `password` (PBKDF2 of the vault password's strength):
   * every log a device would apply, decrypted and sealed again, and every file. A stream, produced
   * as it is read (bounded memory); restore it with client.importArchive on any haex-sync server.
   */
  exportArchive(options: ExportArchiveOptions): Promise<ReadableStream<Uint8Array>> {
    const s = this.#s;
    return exportArchive({
      vaultId: this.vaultId, keyGeneration: this.keyGeneration,
      summary: async () => {
        const summary = (await withRetry(() => s.transport.listVaults(), s.retry)).find((v) => v.vaultId === this.vaultId);
        return { lastSequence: summary?.lastSequence ?? 0, logCount: summary?.logCount ?? 0 };
      },
      pull: (after) => this.pull(after),
      files: () => (s.supabase ? this.files() : Promise.resolve([])),
      openFile: (fileId) => this.openFile(fileId),
    }, options);
  }

  /** @internal */
  async [sealingOf](): Promise<{ key: CryptoKey; generation: number; deviceId: string | null }> {
    const device = this.#s.devices ? (await this.#s.devices.ensure()).id : this.#s.deviceId;
    return { key: this.#ring.currentKey(), generation: this.#ring.current, deviceId: device ?? null };
  }

  // --- sharing (sharing/members.ts) ---------------------------------------------------------------

  #shared(): sharing.SharedVaultContext {
    const settings = this.#s;
    return {
      vaultId: this.vaultId, ring: this.#ring, api: sharingApi(settings.supabase), password: this.#password, pins: settings.sharing.pins,
      identity: () => {
        if (!settings.sharing.identity) {
          throw new UsageError('the inviter (this user) has not unlocked an identity on this client: call client.unlockIdentity(secret) '
            + 'before inviting, creating links, changing roles, removing members or rotating keys');
        }
        return settings.sharing.identity;
      },
    };
  }

  /** Invites an existing user (by email) with a role: the vault keys are sealed to their identity and signed. */
  invite(options: { email: string; role: sharing.Role }): Promise<sharing.SentInvitation> { return sharing.invite(this.#shared(), options); }
  /** The members with role and identity fingerprint. */
  members(): Promise<sharing.Member[]> { return sharing.members(this.#shared()); }
  /** Changes a member's role (admins: writers and readers; the owner: anyone but itself). */
  setRole(userId: string, role: sharing.Role): Promise<void> { return sharing.setRole(this.#shared(), userId, role); }
  /** Ends the member's access at once, then rotates the vault key (a new generation for the others). */
  removeMember(userId: string): Promise<void> { return sharing.removeMember(this.#shared(), userId); }
  /** Leaves the vault (not its owner); an admin's or the owner's device rotates the key afterwards. */
  async leave(): Promise<void> {
    await sharing.leave(this.#shared());
    this.compaction.stop();
  }
  /** An invite link `<token>.<secret>` (for someone without an account yet; put it in a URL fragment). */
  createInviteLink(options: { role: sharing.Role; maxUses?: number; expiresInSeconds?: number }): Promise<string> {
    return createInviteLink(this.#shared(), options);
  }
  /** Rotates the vault key now (also what removeMember does); returns the new generation. */
  rotateKey(): Promise<number> { return sharing.rotateKey(this.#shared()); }
}
