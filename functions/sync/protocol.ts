/**
 * The haex-sync wire protocol: request schemas (zod) and the mapping between the API's camelCase
 * JSON and the SQL API's snake_case names. Everything the server stores is opaque ciphertext.
 *
 * Wire format (JSON, UTF-8, `Content-Type: application/json`):
 *   POST /vault-key            { vaultId, encryptedVaultKey, salt, nonce }          -> 201 { vaultKey }
 *   GET  /vault-key/:vaultId                                                        -> 200 { vaultKey }
 *   PUT  /vault-key/:vaultId   { encryptedVaultKey, salt, nonce, ifUpdatedAt }      -> 200 { vaultKey }
 *        vaultKey = { vaultId, encryptedVaultKey, salt, nonce, createdAt, updatedAt }
 *   GET  /vaults                                    -> 200 { vaults: [{ vaultId, createdAt, updatedAt, lastSequence, logCount, bytes,
 *                                                                       compactedLogs, compactedThrough }] }
 *   DELETE /vaults/:vaultId                         -> 204
 *   POST /push  { vaultId, logs: [{ id?, encryptedData, nonce, haexTimestamp, deviceId?, recordKey?, keyGeneration? }] }
 *               -> 200 { lastSequence, logs: [{ id, sequence, duplicate }], compactionDue? }   (same order as sent;
 *                  compactionDue: true only when the server suggests POST /compact)
 *   POST /compact { vaultId }                       -> 200 { status, removed, remaining, complete, compactedThrough }
 *                  (one resumable step; status complete | more (call again) | nothing_to_do | busy (another runs: later))
 *   POST /pull  { vaultId, afterSequence = 0, limit = SYNC_DEFAULT_PULL_LIMIT }
 *               -> 200 { logs: [{ id, sequence, encryptedData, nonce, haexTimestamp, deviceId, createdAt, recordKey }],
 *                        hasMore, nextSequence, lastSequence, compactedThrough }
 *               404 not_found (vault absent, deleted or not the caller's),
 *               409 cursor_ahead (afterSequence > the vault's lastSequence)
 *
 * Limits: those of the SQL API (private.limits(), generated into functions/_shared/limits.ts; SYNC_*
 * env vars may lower some, see functions/_shared/config.ts): 1..1000 logs per push; encryptedData
 * non-empty padded base64 of at most 524,288 characters, at most 16 MiB summed per push; log nonce
 * 1..64 characters, haexTimestamp 1..128, deviceId 0..128 (or null/absent), recordKey 1..64 characters
 * of unpadded base64url (or null/absent: never compacted); vault key:
 * encryptedVaultKey base64 1..4096, salt base64 1..256, nonce base64 1..64; pull limit 1..1000.
 * Strings must be well-formed Unicode without NUL (PostgreSQL text cannot hold NUL). Ids are UUIDs.
 * Objects are strict: unknown fields are an error.
 *
 * A pull page also ends once its logs reach the byte budget of private.limits() (8 MiB of log fields),
 * always with at least one log; hasMore, nextSequence, lastSequence and compactedThrough come from the
 * database in the snapshot of the page.
 *
 * Invariants: sequences of a vault are assigned 1, 2, 3, ... without gaps by the server in commit
 * order, so a reader following `nextSequence` never skips a log. Compaction (POST /compact) removes
 * superseded logs only at or below the vault's compactedThrough, so a page skips exactly those: a
 * missing sequence <= compactedThrough is compacted, any other is a lost log. Vault ids are never reused: a
 * deleted vault's id answers 409 vault_deleted on POST /vault-key. A push is all-or-nothing and
 * idempotent by log id (a retried id reports its existing sequence with duplicate: true). Another
 * user's vault is indistinguishable from a missing one (404).
 */
import { z } from 'zod';
import type { SyncConfig } from '../_shared/config.ts';
import { isBase64, isBase64url, isUuid } from '../_shared/encoding.ts';
import { badRequest, HttpError } from '../_shared/errors.ts';
import { SQL_LIMITS } from '../_shared/limits.ts';

// SQL's own limits (generated from private.limits()); config may only lower the ones it names.
const LIMITS = {
  logNonceChars: SQL_LIMITS.maxLogNonceChars,
  haexTimestampChars: SQL_LIMITS.maxHaexTimestampChars,
  deviceIdChars: SQL_LIMITS.maxDeviceIdChars,
  encryptedVaultKeyChars: SQL_LIMITS.maxEncryptedVaultKeyChars,
  saltChars: SQL_LIMITS.maxSaltChars,
  keyNonceChars: SQL_LIMITS.maxKeyNonceChars,
} as const;

const uuid = z.string().refine(isUuid, 'must be a uuid');
const base64 = (max: number) =>
  z.string().min(1, `must be 1 to ${max} characters`).max(max, `must be 1 to ${max} characters`)
    .refine(isBase64, 'must be padded base64');
/** Why a free-text value is refused, or undefined. */
const badText = (value: string): string | undefined =>
  value.includes('\u0000') ? 'must not contain NUL characters'
  : value.isWellFormed() ? undefined : 'must be well-formed Unicode';
/** record_key: unpadded base64url, 1..maxRecordKeyChars characters, exactly as the SQL check in push_log_columns. */
const isRecordKey = (value: string) => value.length >= 1 && value.length <= SQL_LIMITS.maxRecordKeyChars && isBase64url(value);
const counter = z.number().int('must be an integer').nonnegative('must be 0 or more')
  .max(Number.MAX_SAFE_INTEGER, 'is too large');

export function schemas(config: Pick<SyncConfig, 'maxLogsPerPush' | 'maxPullLimit' | 'defaultPullLimit' |
  'maxEncryptedDataChars' | 'maxPushDataChars'>) {
  const vaultKeyFields = {
    encryptedVaultKey: base64(LIMITS.encryptedVaultKeyChars),
    salt: base64(LIMITS.saltChars),
    nonce: base64(LIMITS.keyNonceChars),
  };
  // Hot path (up to 1000 logs per push): the log schema does only zod's cheap built-in checks (types,
  // lengths, strictness); content checks (uuid, base64, NUL, well-formed Unicode) run in ONE pass in
  // the superRefine below. Zod refinements per field cost ~10x more (measured: 100 logs 2.9 ms -> 0.3 ms).
  const log = z.object({
    id: z.string().optional(),
    encryptedData: z.string().min(1, `must be 1 to ${config.maxEncryptedDataChars} characters`)
      .max(config.maxEncryptedDataChars, `must be 1 to ${config.maxEncryptedDataChars} characters`),
    nonce: z.string().min(1, `must be 1 to ${LIMITS.logNonceChars} characters`)
      .max(LIMITS.logNonceChars, `must be 1 to ${LIMITS.logNonceChars} characters`),
    haexTimestamp: z.string().min(1, `must be 1 to ${LIMITS.haexTimestampChars} characters`)
      .max(LIMITS.haexTimestampChars, `must be 1 to ${LIMITS.haexTimestampChars} characters`),
    deviceId: z.string().max(LIMITS.deviceIdChars, `must be 0 to ${LIMITS.deviceIdChars} characters`).nullable().optional(),
    recordKey: z.string().nullable().optional(),
    /** The key generation the log is encrypted under (shared vaults; absent: 1). */
    keyGeneration: z.number().int('must be an integer').min(1, 'must be 1 or more').max(Number.MAX_SAFE_INTEGER, 'is too large').optional(),
  }).strict();
  return {
    createVaultKey: z.object({ vaultId: uuid, ...vaultKeyFields }).strict(),
    updateVaultKey: z.object({
      ...vaultKeyFields,
      ifUpdatedAt: z.string().datetime({ offset: true, message: 'must be an ISO 8601 timestamp (updatedAt of the key)' }),
    }).strict(),
    push: z.object({
      vaultId: uuid,
      logs: z.array(log)
        .min(1, `must contain 1 to ${config.maxLogsPerPush} logs`)
        .max(config.maxLogsPerPush, `must contain 1 to ${config.maxLogsPerPush} logs`),
    }).strict().superRefine((body, ctx) => {
      // Runs only when every field has the right type (zod skips refinements of aborted parses).
      const issue = (path: Array<string | number>, message: string) =>
        ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
      let total = 0;
      const logs = body.logs;
      for (let i = 0; i < logs.length; i++) {
        const entry = logs[i]!;
        total += entry.encryptedData.length;
        if (entry.id !== undefined && !isUuid(entry.id)) issue(['logs', i, 'id'], 'must be a uuid');
        if (!isBase64(entry.encryptedData)) issue(['logs', i, 'encryptedData'], 'must be padded base64');
        const nonce = badText(entry.nonce);
        if (nonce) issue(['logs', i, 'nonce'], nonce);
        const haexTimestamp = badText(entry.haexTimestamp);
        if (haexTimestamp) issue(['logs', i, 'haexTimestamp'], haexTimestamp);
        const deviceId = typeof entry.deviceId === 'string' ? badText(entry.deviceId) : undefined;
        if (deviceId) issue(['logs', i, 'deviceId'], deviceId);
        if (typeof entry.recordKey === 'string' && !isRecordKey(entry.recordKey)) {
          issue(['logs', i, 'recordKey'], `must be 1 to ${SQL_LIMITS.maxRecordKeyChars} base64url characters (A-Z a-z 0-9 - _, no padding)`);
        }
      }
      if (total > config.maxPushDataChars) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom, path: ['logs'], params: { sizeLimit: true },
          message: `encryptedData must total at most ${config.maxPushDataChars} characters per push`,
        });
      }
    }),
    compact: z.object({ vaultId: uuid }).strict(),
    pull: z.object({
      vaultId: uuid,
      afterSequence: counter.default(0),
      limit: z.number().int('must be an integer')
        .min(1, `must be 1 to ${config.maxPullLimit}`).max(config.maxPullLimit, `must be 1 to ${config.maxPullLimit}`)
        .default(config.defaultPullLimit),
    }).strict(),
  };
}
export type Schemas = ReturnType<typeof schemas>;
export type PushBody = z.infer<Schemas['push']>;
export type PullBody = z.infer<Schemas['pull']>;

/** `logs[2].nonce` from zod's path. */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

interface IssueDetail { field: string; message: string }

/**
 * A size limit rather than a malformed value: too many logs, an encryptedData too long, too much
 * data in one push. These are 413 `payload_too_large`, as push_log_columns answers them (PT413), so one
 * limit has one status on every path (the function and the rpc).
 */
function isSizeLimit(issue: z.ZodIssue): boolean {
  if (issue.code === 'custom') return issue.params?.sizeLimit === true;
  if (issue.code !== 'too_big') return false;
  const last = issue.path.at(-1);
  return (issue.path.length === 1 && last === 'logs') || last === 'encryptedData';
}

/** Parses or throws 400 (413 for a size limit, see isSizeLimit) with the first problem in `message` and up to 20 in `details`. */
export function parse<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues: IssueDetail[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ field: fieldPath([...issue.path, key]), message: 'unknown field' });
    } else if (issue.code === 'invalid_type' && issue.received === 'undefined') {
      issues.push({ field: fieldPath(issue.path), message: 'is required' });
    } else {
      issues.push({ field: fieldPath(issue.path), message: issue.message });
    }
    if (issues.length >= 20) break;
  }
  const first = issues[0]!;
  const message = first.field === '' ? `body: ${first.message}` : `${first.field}: ${first.message}`;
  if (isSizeLimit(result.error.issues[0]!)) throw new HttpError(413, 'payload_too_large', message, issues);
  throw badRequest(message, issues);
}

/** A uuid path parameter (`name` as the API calls it), lower-cased; else 400 (never reaches SQL). */
export function uuidPathParam(raw: string, name: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw badRequest(`${name} (path): must be a uuid`);
  }
  if (!isUuid(value)) throw badRequest(`${name} (path): must be a uuid`);
  return value.toLowerCase();
}

/** The `:vaultId` of a path. */
export const vaultIdParam = (raw: string): string => uuidPathParam(raw, 'vaultId');

// --- SQL rows <-> API objects ---------------------------------------------------------------------

export interface VaultKeyRow {
  vault_id: string; encrypted_vault_key: string; salt: string; nonce: string; created_at: string; updated_at: string;
  key_generation?: number;
}
export const vaultKeyOut = (row: VaultKeyRow) => ({
  vaultId: row.vault_id, encryptedVaultKey: row.encrypted_vault_key, salt: row.salt, nonce: row.nonce,
  createdAt: row.created_at, updatedAt: row.updated_at,
  // shared vaults: the generation the owner's copy holds, when a rotation re-wrapped it
  ...(row.key_generation !== undefined && row.key_generation > 1 ? { keyGeneration: row.key_generation } : {}),
});

export interface VaultRow {
  vault_id: string; created_at: string; updated_at: string; last_sequence: number; log_count: number; bytes: number;
  compacted_logs: number; compacted_through: number; role?: string; key_generation?: number; key_rotation_due?: boolean;
}
export const vaultOut = (row: VaultRow) => ({
  vaultId: row.vault_id, createdAt: row.created_at, updatedAt: row.updated_at,
  lastSequence: row.last_sequence, logCount: row.log_count, bytes: row.bytes,
  compactedLogs: row.compacted_logs, compactedThrough: row.compacted_through,
  role: row.role, keyGeneration: row.key_generation, keyRotationDue: row.key_rotation_due,
});

/**
 * push_log_columns' arguments (issue 25, item 3): the logs as columns, log i = element i of each
 * array, as PostgREST binds them (uuid[], text[], bigint[]) without parsing an object per log. A
 * missing id is null (the server generates it); record_keys and key_generations are left out when
 * no log has one. deviceId is not sent: the server sets it from the session (issue 19).
 */
export function pushLogColumnsArgs(body: PushBody): Record<string, unknown> {
  const logs = body.logs;
  const n = logs.length;
  const ids = new Array<string | null>(n);
  const encryptedData = new Array<string>(n);
  const nonces = new Array<string>(n);
  const haexTimestamps = new Array<string>(n);
  const recordKeys = new Array<string | null>(n);
  const keyGenerations = new Array<number | null>(n);
  let keyed = false;
  let generations = false;
  for (let i = 0; i < n; i++) {
    const l = logs[i]!;
    ids[i] = l.id ?? null;
    encryptedData[i] = l.encryptedData;
    nonces[i] = l.nonce;
    haexTimestamps[i] = l.haexTimestamp;
    recordKeys[i] = l.recordKey ?? null;
    keyGenerations[i] = l.keyGeneration ?? null;
    keyed ||= recordKeys[i] !== null;
    generations ||= keyGenerations[i] !== null;
  }
  return {
    vault_id: body.vaultId, ids, encrypted_data: encryptedData, nonces, haex_timestamps: haexTimestamps,
    ...(keyed ? { record_keys: recordKeys } : {}), ...(generations ? { key_generations: keyGenerations } : {}),
  };
}

export interface PushAnswer {
  last_sequence: number; results: Array<{ id: string; sequence: number; duplicate: boolean }>; compaction_due?: boolean;
}
export const pushOut = (answer: PushAnswer) => answer.compaction_due === true
  ? { lastSequence: answer.last_sequence, logs: answer.results ?? [], compactionDue: true }
  : { lastSequence: answer.last_sequence, logs: answer.results ?? [] };

export interface CompactAnswer {
  status: 'complete' | 'more' | 'nothing_to_do' | 'busy'; removed: number; remaining: number; complete: boolean; compacted_through: number;
}
