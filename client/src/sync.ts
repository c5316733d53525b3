/**
 * The high-level API: HaexSyncClient (vault lifecycle) and Vault (an unlocked vault: push, pull,
 * sync, changePassword).
 *
 *   const client = HaexSyncClient.create({ supabase });            // rpc transport by default
 *   const vault = await client.createVault(password);              // or client.unlockVault(id, password)
 *   await vault.push([{ data: change, haexTimestamp: hlc }]);
 *   const cursor = await vault.sync({ cursor: saved, pending, apply: (logs) => db.apply(logs) });
 *
 * sync() = one push of the app's pending changes, then a pull of everything after `cursor`, page by
 * page: `apply` is awaited for each page before the next is requested, and `onCursor` (if given) after
 * it, so the app can persist the cursor per page. It returns the new cursor (last sequence applied).
 * Logs this very round pushed are skipped in `apply` by default (the app has them already); the
 * cursor still moves past them. vault.live() (live.ts) runs such pulls whenever a push's Realtime
 * poke arrives.
 *
 * Shared vaults (sharing/*.ts, docs/sharing.md): `client.unlockIdentity(secret)`, then
 * `vault.invite({ email, role })`, `client.invitations()`, `client.acceptInvite(id)`,
 * `client.unlockVault(vaultId)` (no password: the user's key grants), `vault.members()`,
 * `vault.setRole()`, `vault.removeMember()` (ends access, then rotates the key), `vault.leave()`.
 * A Vault holds a key per generation (sharing/keyring.ts): it encrypts under the newest, decrypts
 * every generation it holds a grant for, and fetches the grant of a newer generation when a pulled
 * log or a push's 409 `stale_key_generation` shows one (a push of changes is then re-encrypted once).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type { CompactionOptions } from './compaction.ts';
import { type DeviceInfo, DeviceRegistry, hasDevices } from './devices.ts';
import { canonicalUuid, randomBytes } from './encoding.ts';
import { refuseUnknownOptions, UsageError } from './errors.ts';
import { supabaseFileBackend } from './files/backend.ts';
import { removeVaultObjects } from './files/files.ts';
import type { BatchOptions } from './push.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import { sharingApi } from './sharing/api.ts';
import { acceptInvitation, invitations, type PendingInvitation, ringFromGrants, unlockIdentity } from './sharing/client.ts';
import { claimInviteLink } from './sharing/links.ts';
import { rpcTransport } from './transport/rpc.ts';
import type { SyncTransport, VaultSummary } from './transport/types.ts';
import { unwrapVaultKeyBytes, VAULT_KEY_BYTES, wrapVaultKey } from './vault-key.ts';
import { passwordRing, sameKey, sealingOf, type Settings, Vault, writeOnce } from './vault.ts';
import { type ArchiveData, importArchive, type ImportArchiveOptions } from './archive/import.ts';

export { Vault } from './vault.ts';
export type { SyncOptions, SyncResult } from './vault.ts';

export interface HaexSyncClientOptions {
  /**
   * A supabase-js client authorised as the user; used with the rpc transport unless `transport` is
   * given, and by vault.live() for its Realtime subscription (with either transport).
   */
  supabase?: SupabaseClient<any, any, any>;
  transport?: SyncTransport;
  /**
   * The app's name for this device (1..128 characters), registered with the session on first use
   * (client.device, client.devices(); docs/devices.md). The server sees it.
   */
  deviceName?: string;
  /**
   * Only for a custom transport without devices: stored (in clear, authenticated) with every log.
   * With the built-in transports every log carries the session's registered device id instead.
   */
  deviceId?: string;
  retry?: RetryPolicy;
  push?: BatchOptions;
  /** Default page size of pulls (1..1000, default 1000). */
  pageSize?: number;
  /**
   * Decrypt pulled pages in a worker thread where the runtime has a core to spare (default true;
   * Node and browsers, not Deno); false: always in the calling thread. Same logs and errors either way.
   */
  decryptWorker?: boolean;
  /**
   * Compact in the background when a push's answer says it is due (default true). The push returns
   * as soon as its logs are stored; compaction runs afterwards as separate requests (compaction.ts:
   * one run per Vault, backing off when another compaction is busy, stoppable with
   * `vault.compaction.stop()`); its failure never fails a push.
   */
  autoCompact?: boolean;
  /** Tuning of the background compaction (backoff, limits, callbacks). */
  compaction?: CompactionOptions;
  /**
   * Files (vault.putFile, docs/files.md): plaintext bytes per chunk of NEW files (64 KiB..16 MiB,
   * default 4 MiB; a file keeps the chunk size it was written with) and chunks in flight per
   * transfer (default 3): memory per transfer is about (concurrency + 1) x chunkSize.
   */
  files?: { chunkSize?: number; concurrency?: number };
}

const INVITEE_WITHOUT_IDENTITY = 'the invitee (this user) has not unlocked an identity on this client: '
  + 'call client.unlockIdentity(secret) before accepting an invitation or joining by link';

const CLIENT_OPTIONS: Record<keyof HaexSyncClientOptions, true> = {
  supabase: true, transport: true, deviceName: true, deviceId: true, retry: true, push: true, pageSize: true, decryptWorker: true,
  autoCompact: true, compaction: true, files: true,
};

export class HaexSyncClient {
  readonly #s: Settings;
  private constructor(settings: Settings) { this.#s = settings; }

  /** UsageError for an option it does not know (a misspelt `deviceName` would otherwise be ignored). */
  static create(options: HaexSyncClientOptions): HaexSyncClient {
    refuseUnknownOptions('HaexSyncClient.create', options, CLIENT_OPTIONS);
    if (options.decryptWorker !== undefined && typeof options.decryptWorker !== 'boolean') {
      throw new UsageError('HaexSyncClient.create: decryptWorker must be true or false');
    }
    const transport = options.transport ?? (options.supabase ? rpcTransport(options.supabase) : undefined);
    if (!transport) throw new TypeError('HaexSyncClient.create needs `supabase` or `transport`');
    const retry = options.retry ?? {};
    const devices = hasDevices(transport) ? new DeviceRegistry(transport, options.deviceName ?? null, retry) : undefined;
    return new HaexSyncClient({
      transport, supabase: options.supabase, deviceId: options.deviceId ?? null, devices, retry, push: options.push ?? {},
      pageSize: options.pageSize, decryptWorker: options.decryptWorker, autoCompact: options.autoCompact ?? true, compaction: options.compaction ?? {},
      sharing: { pins: new Map() }, files: options.files,
    });
  }

  get transport(): SyncTransport { return this.#s.transport; }

  /** { id, name } of this session's device, once the client has made its first call (devices.ts). */
  get device(): { id: string; name: string | null } | undefined { return this.#s.devices?.current; }

  /** The user's devices, oldest first; `current` marks this session's. */
  devices(): Promise<DeviceInfo[]> { return this.#registry().list(); }

  /** Revokes one of the user's devices (this one included): its session ends at once (docs/devices.md). */
  revokeDevice(deviceId: string): Promise<void> { return this.#registry().revoke(deviceId); }

  #registry(): DeviceRegistry {
    if (!this.#s.devices) throw new UsageError('this transport has no devices (registerDevice, listDevices, revokeDevice)');
    return this.#s.devices;
  }

  /** First use registers the session (once per client); before any vault call. */
  async #registered(): Promise<void> { await this.#s.devices?.ensure(); }

  /** Creates a vault with a new random key wrapped by `password` (PBKDF2, ~0.5 s). */
  async createVault(password: string, options: { vaultId?: string } = {}): Promise<Vault> {
    const vaultId = canonicalUuid(options.vaultId ?? globalThis.crypto.randomUUID(), 'vaultId');
    const raw = randomBytes(VAULT_KEY_BYTES);
    const wrapped = await wrapVaultKey(vaultId, raw, password);
    await this.#registered();
    const transport = this.#s.transport;
    const record = await writeOnce(this.#s.retry, () => transport.createVault(vaultId, wrapped), async () => {
      const now = await transport.getVaultKey(vaultId).catch(() => undefined);
      return now && sameKey(now, wrapped) ? now : undefined;
    });
    return new Vault(await passwordRing(this.#s, vaultId, 1, raw), record, this.#s, password);
  }

  /**
   * Opens an existing vault: with its password (the owner's copy; WrongPasswordError), or without one
   * through the user's key grants (a member; needs unlockIdentity first). NotFoundError when absent
   * or not the user's.
   */
  async unlockVault(vaultId: string, password?: string): Promise<Vault> {
    const id = canonicalUuid(vaultId, 'vaultId');
    await this.#registered();
    let vault: Vault;
    if (password === undefined) {
      const ring = await ringFromGrants(sharingApi(this.#s.supabase), id, () => this.#s.sharing.identity, this.#s.sharing.pins);
      vault = new Vault(ring, undefined, this.#s);
    } else {
      const record = await withRetry(() => this.#s.transport.getVaultKey(id), this.#s.retry);
      const raw = await unwrapVaultKeyBytes(id, record, password);
      vault = new Vault(await passwordRing(this.#s, id, record.keyGeneration ?? 1, raw), record, this.#s, password);
    }
    await this.#rotateIfDue(vault);
    return vault;
  }

  /**
   * A member left since the last rotation, or the server's key generation is newer than any this
   * device could verify (an untrusted rotation, docs/sharing.md): the first admin's or owner's device
   * (with its identity) to open the vault rotates, which replaces it with a signed one.
   */
  async #rotateIfDue(vault: Vault): Promise<void> {
    if (!this.#s.sharing.identity || !this.#s.supabase) return;
    const summary = (await this.listVaults()).find((v) => v.vaultId === vault.vaultId);
    const unverified = (summary?.keyGeneration ?? 0) > vault.keyGeneration;
    if ((summary?.keyRotationDue || unverified) && (summary?.role === 'owner' || summary?.role === 'admin')) await vault.rotateKey();
  }

  // --- sharing (sharing/client.ts) ----------------------------------------------------------------

  /** Unwraps this user's identity with `secret` (PBKDF2, ~0.5 s), creating it on first use. WrongSecretError. */
  async unlockIdentity(secret: string): Promise<void> {
    this.#s.sharing.identity = await unlockIdentity(sharingApi(this.#s.supabase), secret);
  }

  /** This user's identity fingerprint (16 groups of 4 hex digits), to compare out of band. */
  get fingerprint(): string {
    if (!this.#s.sharing.identity) throw new UsageError('this user has not unlocked an identity on this client: client.unlockIdentity(secret) first');
    return this.#s.sharing.identity.fingerprint;
  }

  /** Pending invitations to this user, each with the inviter's email and fingerprint. */
  invitations(): Promise<PendingInvitation[]> { return invitations(sharingApi(this.#s.supabase)); }

  /** Accepts an invitation (idempotent) and returns the vault, unlocked through the grants it carried. */
  async acceptInvite(invitationId: string): Promise<Vault> {
    if (!this.#s.sharing.identity) throw new UsageError(INVITEE_WITHOUT_IDENTITY);
    const vaultId = await acceptInvitation(sharingApi(this.#s.supabase), this.#s.sharing.identity,
      canonicalUuid(invitationId, 'invitationId'), this.#s.sharing.pins);
    return await this.unlockVault(vaultId);
  }

  /** Joins a vault through an invite link (one use), checking the inviter's signatures; returns the unlocked Vault. */
  async joinByLink(link: string): Promise<Vault> {
    const me = this.#s.sharing.identity;
    if (!me) throw new UsageError(INVITEE_WITHOUT_IDENTITY);
    return await this.unlockVault(await claimInviteLink(sharingApi(this.#s.supabase), me, link, this.#s.sharing.pins));
  }

  /** Declines an invitation. */
  async declineInvite(invitationId: string): Promise<void> {
    await sharingApi(this.#s.supabase).decline(canonicalUuid(invitationId, 'invitationId'));
  }

  /** The user's vaults; with a supabase client also each one's used bytes and quota (list_vault_usage). */
  async listVaults(): Promise<VaultSummary[]> {
    await this.#registered();
    const vaults = await withRetry(() => this.#s.transport.listVaults(), this.#s.retry);
    if (!this.#s.supabase || vaults.length === 0) return vaults;
    const usage = await withRetry(() => supabaseFileBackend(this.#s.supabase).usage(), this.#s.retry);
    return vaults.map((v) => {
      const u = usage.get(v.vaultId);
      return u ? { ...v, usedBytes: u.usedBytes, fileBytes: u.fileBytes, quotaBytes: u.quotaBytes } : v;
    });
  }

  /**
   * Restores an archive (vault.exportArchive) as a new vault owned by this user, protected by
   * `vaultPassword`: pushes every change, uploads every file, resolves the new Vault. WrongPasswordError
   * before anything is created; ArchiveIntegrityError for a damaged or foreign file (no vault is left
   * behind). Interrupted, it resumes when called again with the same archive (archive/import.ts,
   * docs/export.md).
   */
  importArchive(data: ArchiveData, options: ImportArchiveOptions): Promise<Vault> {
    return importArchive({
      createVault: (password, o) => this.createVault(password, o),
      unlockVault: (vaultId, password) => this.unlockVault(vaultId, password),
      deleteVault: (vaultId) => this.deleteVault(vaultId),
      sealing: (vault) => vault[sealingOf](),
    }, data, options);
  }

  /**
   * Deletes the vault with its key, every log and every file, for every device (the owner only).
   * Files go first, through the Storage API (prepare_vault_deletion stops new uploads; each call
   * removes what is left, so an interrupted deletion is finished by calling again).
   */
  async deleteVault(vaultId: string): Promise<void> {
    const id = canonicalUuid(vaultId, 'vaultId');
    if (this.#s.supabase) {
      const backend = supabaseFileBackend(this.#s.supabase);
      await backend.prepareVaultDeletion(id);
      await removeVaultObjects({ vaultId: id, backend });
    }
    return this.#s.transport.deleteVault(id);
  }
}
