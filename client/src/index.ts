/**
 * haex-sync client: end-to-end encrypted sync of CRDT logs through a haex-sync server (Supabase).
 * WebCrypto only; runs in browsers, Tauri webviews, Node 20+ and Deno. See docs/client.md.
 */
export { HaexSyncClient, Vault } from './sync.ts';
export type { HaexSyncClientOptions, SyncOptions, SyncResult } from './sync.ts';
export type { LiveOptions, LiveState, LiveSync } from './live.ts';
export { MAX_DEVICE_NAME_CHARS } from './devices.ts';
export type { DeviceInfo, DeviceTransport } from './devices.ts';
export {
  ConflictError, CursorAheadError, ForbiddenError, HaexSyncError, isRetryable, LogDecryptionError, NotFoundError, SequenceGapError, ServerError,
  SessionRevokedError, TransportError, UsageError, ValidationError, VaultDeletedError, WrongPasswordError,
} from './errors.ts';
export {
  decryptLog, encryptChange, logAad, LOG_AAD_PREFIX, LOG_AAD_PREFIX_V2, LOG_AAD_PREFIX_V3, logDecryptor, MAX_PLAINTEXT_BYTES,
} from './log-crypto.ts';
export { RECORD_KEY_INFO, recordKeyFor } from './record-key.ts';
export type { Change, DecryptedLog, EncryptedLog, StoredLog } from './log-crypto.ts';
export {
  createVaultKey, PBKDF2_ITERATIONS, rewrapVaultKey, unwrapVaultKey, VAULT_KEY_AAD_PREFIX, vaultKeyAad, wrapVaultKey,
} from './vault-key.ts';
export type { WrappedVaultKey } from './vault-key.ts';
export { DEFAULT_PUSH_BYTES, encryptChanges, MAX_LOGS_PER_PUSH, MAX_PUSH_BYTES, planBatches, pushChanges, pushEncrypted } from './push.ts';
export type { BatchOptions, PushOptions } from './push.ts';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pullPages } from './pull.ts';
export type { PullOptions, PullPage } from './pull.ts';
export { backoffDelay, DEFAULT_RETRY, withRetry } from './retry.ts';
export type { RetryPolicy } from './retry.ts';
export { rpcTransport } from './transport/rpc.ts';
export { edgeFunctionTransport } from './transport/edge-function.ts';
export type { EdgeFunctionEndpoint } from './transport/edge-function.ts';
export { CompactionScheduler } from './compaction.ts';
export type { CompactionOptions, CompactionRunEnd } from './compaction.ts';
export type { CompactResult, CompactStatus, PullResult, PushResult, SyncTransport, VaultKeyRecord, VaultSummary } from './transport/types.ts';
export type { Database } from './database.types.ts';
// Shared vaults (issue 18, docs/sharing.md)
export { fingerprint, GrantVerificationError } from './sharing/crypto.ts';
export { WrongSecretError } from './sharing/identity.ts';
export { MissingKeyError } from './sharing/keyring.ts';
export { UntrustedChangeError } from './sharing/chain.ts';
export type { PendingInvitation } from './sharing/client.ts';
export type { Member, Role, SentInvitation } from './sharing/members.ts';
