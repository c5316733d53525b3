/**
 * The transport interface: how the client reaches the server. Two implementations:
 *   rpcTransport(supabase)            SQL functions through supabase-js `.rpc()` (PostgREST), default
 *   edgeFunctionTransport(...)        the `sync` Edge Function over fetch
 * Both speak camelCase to the library and map every failure to the typed errors of ../errors.ts
 * (NotFoundError, ConflictError, ValidationError with field, TransportError with `retryable`).
 * A transport does not retry; push.ts and pull.ts do.
 */
import type { EncryptedLog, StoredLog } from '../log-crypto.ts';
import type { WrappedVaultKey } from '../vault-key.ts';

export interface VaultKeyRecord extends WrappedVaultKey {
  vaultId: string;
  createdAt: string;
  /** The version of the record; pass it as `ifUpdatedAt` to updateVaultKey. */
  updatedAt: string;
}

export interface VaultSummary {
  vaultId: string;
  createdAt: string;
  updatedAt: string;
  lastSequence: number;
  /** Live logs (compaction removed the others). */
  logCount: number;
  bytes: number;
  /** Logs removed by compaction in total. */
  compactedLogs: number;
  /** How far compaction has run: missing sequences at or below it were compacted. */
  compactedThrough: number;
  /** Shared vaults: this user's role, the vault's key generation, and whether a rotation is due (someone left). */
  role?: 'owner' | 'admin' | 'writer' | 'reader';
  keyGeneration?: number;
  keyRotationDue?: boolean;
  /**
   * Quotas (issue 26, docs/files.md#quotas; HaexSyncClient.listVaults with a supabase client): bytes of
   * live logs and files the vault stores, what of it is files, and its byte quota (null: none).
   */
  usedBytes?: number;
  fileBytes?: number;
  quotaBytes?: number | null;
}

/**
 * What one compaction step did: `complete` (this call finished the pass), `more` (stopped at its
 * time budget: call again, it resumes), `nothing_to_do` (nothing pushed since the last complete
 * pass), `busy` (another compaction of the vault is running: try later).
 */
export type CompactStatus = 'complete' | 'more' | 'nothing_to_do' | 'busy';
export const isCompactStatus = (value: unknown): value is CompactStatus =>
  value === 'complete' || value === 'more' || value === 'nothing_to_do' || value === 'busy';

export interface CompactResult {
  status: CompactStatus;
  /** Logs removed (by this call; by Vault.compact(): by all its calls). */
  removed: number;
  /** Live logs of the vault afterwards. */
  remaining: number;
  /** True for `complete` and `nothing_to_do`. */
  complete: boolean;
  /** The vault's compaction cursor afterwards: every log at or below it has been examined. */
  compactedThrough: number;
}

export interface PushResult {
  lastSequence: number;
  /** Same order as sent; `duplicate` when the server already had the id (a retried push). */
  logs: Array<{ id: string; sequence: number; duplicate: boolean }>;
  /** The server suggests a compaction (many logs with record keys since the last one). */
  compactionDue?: boolean;
}

/** One pull page with its state, read by the server in the same snapshot as the logs. */
export interface PullResult {
  /** Ascending by sequence; ends at the server's row and byte limits (at least one log if any follow the cursor). */
  logs: StoredLog[];
  /** Whether the vault has logs after this page. */
  hasMore: boolean;
  /** The cursor to pull after next (the page's last sequence, or the vault's lastSequence when nothing follows). */
  nextSequence: number;
  /** The vault's last sequence. */
  lastSequence: number;
  /**
   * How far compaction has run: sequences at or below it may be missing (compacted); a missing
   * sequence above it is a lost log. Absent (0) from a server without compaction.
   */
  compactedThrough?: number;
}

export interface SyncTransport {
  readonly name: string;
  createVault(vaultId: string, key: WrappedVaultKey): Promise<VaultKeyRecord>;
  getVaultKey(vaultId: string): Promise<VaultKeyRecord>;
  updateVaultKey(vaultId: string, key: WrappedVaultKey, ifUpdatedAt: string): Promise<VaultKeyRecord>;
  listVaults(): Promise<VaultSummary[]>;
  deleteVault(vaultId: string): Promise<void>;
  push(vaultId: string, logs: EncryptedLog[]): Promise<PushResult>;
  pull(vaultId: string, afterSequence: number, limit: number): Promise<PullResult>;
  /** One compact_logs call (it may stop early: see CompactResult.complete). */
  compact(vaultId: string): Promise<CompactResult>;
}
