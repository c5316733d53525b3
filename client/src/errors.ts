/**
 * Typed errors of the haex-sync client. Every error the library throws on purpose is a
 * `HaexSyncError`; test with `instanceof` (or `error.name`, which survives structured cloning).
 *
 * - WrongPasswordError: the vault key could not be unwrapped (GCM authentication failed): wrong
 *   password, or a key record that is not this vault's.
 * - LogDecryptionError: a log failed authentication (altered, moved to another vault, id or
 *   timestamp rewritten, or a different key). Names the log id and sequence.
 * - SequenceGapError: a pull page did not continue at cursor + 1 (the server skipped or reordered a
 *   log); skipping sequences at or below the page's compactedThrough is compaction, not a gap.
 * - NotFoundError (404/PT404), ConflictError (409/PT409), ValidationError (400/413, PT400/PT413,
 *   with the offending `field` when the server names it); QuotaExceededError (a ValidationError,
 *   413 `quota_exceeded`): the vault's byte quota would be passed (docs/files.md#quotas).
 * - VaultDeletedError (a ConflictError, code `vault_deleted`): createVault with the id of a vault
 *   that was deleted. Vault ids are never reused. What an app does: treat its local copy as a vault
 *   deleted elsewhere (ask the user), or create a NEW vault (createVault without vaultId) and push its
 *   local data there; devices still syncing the old id get NotFoundError from pull and push.
 * - CursorAheadError (a ConflictError, code `cursor_ahead`): a pull's cursor is beyond the vault's
 *   last sequence: the server holds fewer logs than this device has seen (a database restored from a
 *   backup, or a cursor stored for another vault). What an app does: pull again from 0 (its apply
 *   must be idempotent by log id or HLC, as CRDT merges are) and push its local changes again (push
 *   is idempotent by log id), so the server regains what it lost.
 * - SessionRevokedError (a TransportError, 401 `session_revoked`, not retryable): this session's
 *   device was revoked or it signed out.
 * - ApiKeyError (a TransportError, 401 `invalid_api_key`, not retryable): the API gateway refused the
 *   `apikey` the supabase-js client (or edgeFunctionTransport) was created with: it is none of the
 *   project's keys (hosted Supabase and the embedded stack answer 401 "Invalid API key" or
 *   "Unregistered API key"). A configuration error: fix the key.
 * - UnauthorizedError (a TransportError, any other 401, not retryable): the access token was refused
 *   (expired past refreshing, forged, another project's, or none where a user is needed). Sign in again.
 * - TransportError: anything else on the way (network, 5xx, 429, 401/403, unexpected answers);
 *   `retryable` says whether repeating the same request may succeed: network failures, 408, 429, 502,
 *   503 and 504. A 500 is the server's bug (its log says more), and a repeat would meet it again.
 */

export class HaexSyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class WrongPasswordError extends HaexSyncError {
  constructor(readonly vaultId: string, options?: { cause?: unknown }) {
    super(`wrong password for vault ${vaultId} (or its key record is not this vault's)`, options);
  }
}

export class LogDecryptionError extends HaexSyncError {
  constructor(readonly vaultId: string, readonly logId: string, readonly sequence: number | undefined,
    reason: string, options?: { cause?: unknown }) {
    super(`log ${logId}${sequence === undefined ? '' : ` (sequence ${sequence})`} of vault ${vaultId} `
      + `cannot be decrypted: ${reason}`, options);
  }
}

export class SequenceGapError extends HaexSyncError {
  constructor(readonly vaultId: string, readonly expected: number, readonly received: number | undefined) {
    super(received === undefined
      ? `vault ${vaultId}: server reported more logs after ${expected - 1} but returned none`
      : `vault ${vaultId}: expected sequence ${expected} but the server returned ${received}`);
  }
}

/** Common shape of errors that come from the server. */
export class ServerError extends HaexSyncError {
  constructor(message: string, readonly status: number, readonly code: string, readonly details?: unknown,
    options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class NotFoundError extends ServerError {}
/** 403 (SQL PT403 `forbidden`): the caller's role in a shared vault does not allow this (e.g. a reader's push). */
export class ForbiddenError extends ServerError {}
export class ConflictError extends ServerError {}
/** 409 `vault_deleted` (SQL PT409, hint vault_deleted): the vault id belonged to a deleted vault. */
export class VaultDeletedError extends ConflictError {}
/** 409 `cursor_ahead` (SQL PT409, hint cursor_ahead): the pull cursor is beyond the vault's last sequence. */
export class CursorAheadError extends ConflictError {}
export class ValidationError extends ServerError {
  /** The offending field as the server names it (`vault_id`, `logs[3].nonce`, `logs`), if any. */
  readonly field: string | undefined;
  constructor(message: string, status: number, code: string, field: string | undefined, details?: unknown) {
    super(message, status, code, details);
    this.field = field;
  }
}

/**
 * 413 `quota_exceeded` (SQL PT413, hint quota_exceeded): the push or upload would take the vault past
 * its byte quota (logs and files together); nothing of it was stored. What an app does: tell the user,
 * free space (compaction, deleteFile, compactFiles), or have the operator raise the quota.
 */
export class QuotaExceededError extends ValidationError {}

export class TransportError extends ServerError {
  constructor(message: string, status: number, code: string, readonly retryable: boolean,
    /** Milliseconds the server asked to wait (Retry-After), if it did. */
    readonly retryAfterMs?: number, details?: unknown, options?: { cause?: unknown }) {
    super(message, status, code, details, options);
  }
}

/**
 * 401 `session_revoked` (SQL PT401, hint session_revoked): this client's Auth session has ended: its
 * device was revoked (client.revokeDevice on any device of the user) or it signed out. Final: every
 * later call fails the same way, live sync stops; sign in again for a new session (docs/devices.md).
 */
export class SessionRevokedError extends TransportError {
  constructor(message: string, status: number, code: string, details?: unknown) {
    super(message, status, code, false, undefined, details);
  }
}

/**
 * 401 from the API gateway: the `apikey` is none of the project's keys. Hosted Supabase and the
 * embedded stack answer `{"message":"Invalid API key"}` or `{"message":"Unregistered API key"}`.
 */
export class ApiKeyError extends TransportError {
  constructor(message: string, status: number, code: string, details?: unknown) {
    super(message, status, code, false, undefined, details);
  }
}

/** Any other 401: the access token was refused (expired past refreshing, forged, another project's, missing). */
export class UnauthorizedError extends TransportError {
  constructor(message: string, status: number, code: string, details?: unknown) {
    super(message, status, code, false, undefined, details);
  }
}

/** The gateway's messages for a refused apikey (stack/api-key-check.ts, hosted Supabase's gateway). */
const API_KEY_MESSAGE = /^(Invalid|Unregistered) API key$/;

/** The code for a 401 whose body says the apikey was refused (a gateway answer has no code of its own). */
export const apiKeyCode = (status: number, message: unknown): string | undefined =>
  status === 401 && typeof message === 'string' && API_KEY_MESSAGE.test(message) ? 'invalid_api_key' : undefined;

/** A client-side usage error (bad argument), thrown before anything is sent. */
export class UsageError extends HaexSyncError {}

/**
 * Refuses option names the library does not know, so a misspelt one (`deviceNmae`) fails at once
 * instead of being ignored. `known` lists every option once (a Record, so TypeScript keeps it complete).
 */
export function refuseUnknownOptions(where: string, options: unknown, known: Record<string, true>): void {
  if (typeof options !== 'object' || options === null) throw new UsageError(`${where} needs an options object`);
  const unknown = Object.keys(options).filter((name) => !Object.hasOwn(known, name));
  if (unknown.length > 0) {
    throw new UsageError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}`
      + ` (known: ${Object.keys(known).join(', ')})`);
  }
}

/** Is repeating the request that failed with `error` worthwhile? */
export const isRetryable = (error: unknown): boolean => error instanceof TransportError && error.retryable;

/** Maps an HTTP status + server code/message/field to a typed error. */
export function errorFromStatus(status: number, code: string, message: string, field?: string,
  details?: unknown, retryAfterMs?: number, cause?: unknown): ServerError {
  if (status === 404) return new NotFoundError(message, status, code, details);
  if (status === 401) {
    if (code === 'session_revoked') return new SessionRevokedError(message, status, code, details);
    if (code === 'invalid_api_key') return new ApiKeyError(message, status, code, details);
    return new UnauthorizedError(message, status, code, details);
  }
  if (status === 403 && (code === 'PT403' || code === 'forbidden')) return new ForbiddenError(message, status, code, details);
  if (status === 409) {
    const Conflict = code === 'vault_deleted' ? VaultDeletedError : code === 'cursor_ahead' ? CursorAheadError : ConflictError;
    return new Conflict(message, status, code, details);
  }
  if (status === 413 && code === 'quota_exceeded') return new QuotaExceededError(message, status, code, field, details);
  if (status === 400 || status === 413 || status === 422) {
    return new ValidationError(message, status, code, field, details);
  }
  const retryable = status === 0 || status === 408 || status === 429 || status === 502 || status === 503
    || status === 504;
  return new TransportError(message, status, code, retryable, retryAfterMs, details, { cause });
}

/** Retry-After (seconds or HTTP date) -> milliseconds, or undefined. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
