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
import { type DeviceInfo, DeviceRegistry, hasDevices } from './devices.ts';
import { ConflictError, UsageError } from './errors.ts';
import { type CompactionOptions, CompactionScheduler } from './compaction.ts';
import { type LiveOptions, type LiveSync, startLive } from './live.ts';
import { canonicalUuid } from './encoding.ts';
import type { Change, DecryptedLog, EncryptedLog } from './log-crypto.ts';
import { type PullOptions, type PullPage, pullPages } from './pull.ts';
import { type BatchOptions, encryptChanges, type PushOptions, pushEncrypted } from './push.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import { rpcTransport } from './transport/rpc.ts';
import type { CompactResult, PushResult, SyncTransport, VaultKeyRecord, VaultSummary } from './transport/types.ts';
import { rewrapVaultKey, unwrapVaultKeyBytes, VAULT_KEY_BYTES, wrapVaultKey, type WrappedVaultKey } from './vault-key.ts';
import { randomBytes } from './encoding.ts';
import { sharingApi } from './sharing/api.ts';
import { invitations, type PendingInvitation, ringFromGrants, unlockIdentity } from './sharing/client.ts';
import type { UnlockedIdentity } from './sharing/identity.ts';
import { KeyRing } from './sharing/keyring.ts';
import { claimInviteLink, createInviteLink } from './sharing/links.ts';
import * as sharing from './sharing/members.ts';

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
   * Compact in the background when a push's answer says it is due (default true). The push returns
   * as soon as its logs are stored; compaction runs afterwards as separate requests (compaction.ts:
   * one run per Vault, backing off when another compaction is busy, stoppable with
   * `vault.compaction.stop()`); its failure never fails a push.
   */
  autoCompact?: boolean;
  /** Tuning of the background compaction (backoff, limits, callbacks). */
  compaction?: CompactionOptions;
}

interface Settings {
  transport: SyncTransport;
  supabase: SupabaseClient<any, any, any> | undefined;
  deviceId: string | null;
  /** The session's device registration; undefined for a custom transport without devices. */
  devices: DeviceRegistry | undefined;
  retry: RetryPolicy;
  push: BatchOptions;
  pageSize: number | undefined;
  autoCompact: boolean;
  compaction: CompactionOptions;
  /** The user's unlocked identity (client.unlockIdentity), shared by the client and its Vaults. */
  sharing: { identity?: UnlockedIdentity };
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

const isEncrypted = (value: Change | EncryptedLog): value is EncryptedLog =>
  typeof (value as EncryptedLog).encryptedData === 'string' && typeof (value as EncryptedLog).id === 'string';

/** Runs a write whose retry may meet its own first attempt's success as a 409: then `verify` decides. */
async function writeOnce(retry: RetryPolicy, write: () => Promise<VaultKeyRecord>,
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
const sameKey = (a: WrappedVaultKey, b: WrappedVaultKey) =>
  a.encryptedVaultKey === b.encryptedVaultKey && a.salt === b.salt && a.nonce === b.nonce;

/** The key ring of a vault unlocked with its password: its generation, newer ones from grants. */
async function passwordRing(settings: Settings, vaultId: string, generation: number, raw: Uint8Array<ArrayBuffer>): Promise<KeyRing> {
  const ring = new KeyRing(vaultId, (r, after) =>
    settings.sharing.identity ? sharing.refreshGrants(r, after, sharingApi(settings.supabase), settings.sharing.identity) : Promise.resolve());
  await ring.add(generation, raw);
  raw.fill(0);
  return ring;
}

export class Vault {
  readonly #ring: KeyRing;
  #record: VaultKeyRecord | undefined;
  readonly #password: string | undefined;
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
      if (this.#ring.current === before) throw error;
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
      { pageSize: this.#s.pageSize, ...options, afterSequence, retry: this.#s.retry });
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
  }

  // --- sharing (sharing/members.ts) ---------------------------------------------------------------

  #shared(): sharing.SharedVaultContext {
    const settings = this.#s;
    return {
      vaultId: this.vaultId, ring: this.#ring, api: sharingApi(settings.supabase), password: this.#password,
      identity: () => {
        if (!settings.sharing.identity) throw new UsageError('unlockIdentity(secret) first');
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

export class HaexSyncClient {
  readonly #s: Settings;
  private constructor(settings: Settings) { this.#s = settings; }

  static create(options: HaexSyncClientOptions): HaexSyncClient {
    const transport = options.transport ?? (options.supabase ? rpcTransport(options.supabase) : undefined);
    if (!transport) throw new TypeError('HaexSyncClient.create needs `supabase` or `transport`');
    const retry = options.retry ?? {};
    const devices = hasDevices(transport) ? new DeviceRegistry(transport, options.deviceName ?? null, retry) : undefined;
    return new HaexSyncClient({
      transport, supabase: options.supabase, deviceId: options.deviceId ?? null, devices, retry, push: options.push ?? {},
      pageSize: options.pageSize, autoCompact: options.autoCompact ?? true, compaction: options.compaction ?? {},
      sharing: {},
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
      const ring = await ringFromGrants(sharingApi(this.#s.supabase), id, () => this.#s.sharing.identity);
      vault = new Vault(ring, undefined, this.#s);
    } else {
      const record = await withRetry(() => this.#s.transport.getVaultKey(id), this.#s.retry);
      const raw = await unwrapVaultKeyBytes(id, record, password);
      vault = new Vault(await passwordRing(this.#s, id, record.keyGeneration ?? 1, raw), record, this.#s, password);
    }
    await this.#rotateIfDue(vault);
    return vault;
  }

  /** A member left since the last rotation: the first admin's or owner's device (with its identity) to open the vault rotates. */
  async #rotateIfDue(vault: Vault): Promise<void> {
    if (!this.#s.sharing.identity || !this.#s.supabase) return;
    const summary = (await this.listVaults()).find((v) => v.vaultId === vault.vaultId);
    if (summary?.keyRotationDue && (summary.role === 'owner' || summary.role === 'admin')) await vault.rotateKey();
  }

  // --- sharing (sharing/client.ts) ----------------------------------------------------------------

  /** Unwraps this user's identity with `secret` (PBKDF2, ~0.5 s), creating it on first use. WrongSecretError. */
  async unlockIdentity(secret: string): Promise<void> {
    this.#s.sharing.identity = await unlockIdentity(sharingApi(this.#s.supabase), secret);
  }

  /** This user's identity fingerprint (16 groups of 4 hex digits), to compare out of band. */
  get fingerprint(): string {
    if (!this.#s.sharing.identity) throw new UsageError('unlockIdentity(secret) first');
    return this.#s.sharing.identity.fingerprint;
  }

  /** Pending invitations to this user, each with the inviter's email and fingerprint. */
  invitations(): Promise<PendingInvitation[]> { return invitations(sharingApi(this.#s.supabase)); }

  /** Accepts an invitation (idempotent) and returns the vault, unlocked through the grants it carried. */
  async acceptInvite(invitationId: string): Promise<Vault> {
    if (!this.#s.sharing.identity) throw new UsageError('unlockIdentity(secret) first');
    const accepted = await sharingApi(this.#s.supabase).accept(canonicalUuid(invitationId, 'invitationId'));
    return await this.unlockVault(accepted.vault_id);
  }

  /** Joins a vault through an invite link (one use), checking the inviter's signatures; returns the unlocked Vault. */
  async joinByLink(link: string): Promise<Vault> {
    const me = this.#s.sharing.identity;
    if (!me) throw new UsageError('unlockIdentity(secret) first');
    return await this.unlockVault(await claimInviteLink(sharingApi(this.#s.supabase), me, link));
  }

  /** Declines an invitation. */
  async declineInvite(invitationId: string): Promise<void> {
    await sharingApi(this.#s.supabase).decline(canonicalUuid(invitationId, 'invitationId'));
  }

  async listVaults(): Promise<VaultSummary[]> {
    await this.#registered();
    return withRetry(() => this.#s.transport.listVaults(), this.#s.retry);
  }

  /** Deletes the vault with its key and every log, for every device. */
  deleteVault(vaultId: string): Promise<void> {
    return this.#s.transport.deleteVault(canonicalUuid(vaultId, 'vaultId'));
  }
}
