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
 *   POST /push  { vaultId, logs: [{ id?, encryptedData, nonce, haexTimestamp, deviceId?, recordKey? }] }
 *               -> 200 { lastSequence, logs: [{ id, sequence, duplicate }], compactionDue? }   (same order as sent;
 *                  compactionDue: true only when the server suggests POST /compact)
 *   POST /compact { vaultId }                       -> 200 { removed, remaining, complete }   (again while !complete)
 *   POST /pull  { vaultId, afterSequence = 0, limit = SYNC_DEFAULT_PULL_LIMIT }
 *               -> 200 { logs: [{ id, sequence, encryptedData, nonce, haexTimestamp, deviceId, createdAt }],
 *                        hasMore, nextSequence }
 *
 * Limits (defaults; SYNC_* env vars, see functions/_shared/config.ts): 1..1000 logs per push;
 * encryptedData non-empty padded base64 of at most 524,288 characters, at most 16 MiB summed per push;
 * log nonce 1..64 characters, haexTimestamp 1..128, deviceId 0..128 (or null/absent), recordKey 1..64
 * characters of unpadded base64url (or null/absent: never compacted); vault key:
 * encryptedVaultKey base64 1..4096, salt base64 1..256, nonce base64 1..64; pull limit 1..1000.
 * Strings must be well-formed Unicode without NUL (PostgreSQL text cannot hold NUL). Ids are UUIDs.
 * Objects are strict: unknown fields are an error.
 *
 * Invariants: sequences of a vault are 1, 2, 3, ... without gaps, assigned by the server in commit
 * order, so a reader following `nextSequence` never skips a log. A push is all-or-nothing and
 * idempotent by log id (a retried id reports its existing sequence with duplicate: true). Another
 * user's vault is indistinguishable from a missing one (404).
 */
import { z } from 'zod';
import type { SyncConfig } from '../_shared/config.ts';
import { badRequest, HttpError } from '../_shared/errors.ts';

// SQL's own limits (supabase/migrations, private.limits()); config may only lower the ones it names.
export const LIMITS = {
  logNonceChars: 64,
  haexTimestampChars: 128,
  deviceIdChars: 128,
  encryptedVaultKeyChars: 4096,
  saltChars: 256,
  keyNonceChars: 64,
} as const;

const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
export const isUuid = (value: string) => UUID.test(value);

/** Padded standard base64 (RFC 4648 section 4), exactly as the SQL check (private.is_base64). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (value: string) => value.length % 4 === 0 && BASE64.test(value);

const uuid = z.string().regex(UUID, 'must be a uuid');
const base64 = (max: number) =>
  z.string().min(1, `must be 1 to ${max} characters`).max(max, `must be 1 to ${max} characters`)
    .refine(isBase64, 'must be padded base64');
/** Why a free-text value is refused, or undefined. */
const badText = (value: string): string | undefined =>
  value.includes('\u0000') ? 'must not contain NUL characters'
  : value.isWellFormed() ? undefined : 'must be well-formed Unicode';
/** record_key: unpadded base64url, 1..64 characters, exactly as the SQL check in push_logs. */
const RECORD_KEY = /^[A-Za-z0-9_-]{1,64}$/;
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
        if (entry.id !== undefined && !UUID.test(entry.id)) issue(['logs', i, 'id'], 'must be a uuid');
        if (!isBase64(entry.encryptedData)) issue(['logs', i, 'encryptedData'], 'must be padded base64');
        const nonce = badText(entry.nonce);
        if (nonce) issue(['logs', i, 'nonce'], nonce);
        const haexTimestamp = badText(entry.haexTimestamp);
        if (haexTimestamp) issue(['logs', i, 'haexTimestamp'], haexTimestamp);
        const deviceId = typeof entry.deviceId === 'string' ? badText(entry.deviceId) : undefined;
        if (deviceId) issue(['logs', i, 'deviceId'], deviceId);
        if (typeof entry.recordKey === 'string' && !RECORD_KEY.test(entry.recordKey)) {
          issue(['logs', i, 'recordKey'], 'must be 1 to 64 base64url characters (A-Z a-z 0-9 - _, no padding)');
        }
      }
      if (total > config.maxPushDataChars) {
        issue(['logs'], `encryptedData must total at most ${config.maxPushDataChars} characters per push`);
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

/** Parses or throws 400 with the first problem in `message` and up to 20 in `details`. */
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
  throw badRequest(first.field === '' ? `body: ${first.message}` : `${first.field}: ${first.message}`, issues);
}

/** The `:vaultId` of a path: a uuid, else 400 (never reaches SQL). */
export function vaultIdParam(raw: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw badRequest('vaultId (path): must be a uuid');
  }
  if (!isUuid(value)) throw badRequest('vaultId (path): must be a uuid');
  return value.toLowerCase();
}

// --- SQL rows <-> API objects ---------------------------------------------------------------------

export interface VaultKeyRow {
  vault_id: string; encrypted_vault_key: string; salt: string; nonce: string; created_at: string; updated_at: string;
}
export const vaultKeyOut = (row: VaultKeyRow) => ({
  vaultId: row.vault_id, encryptedVaultKey: row.encrypted_vault_key, salt: row.salt, nonce: row.nonce,
  createdAt: row.created_at, updatedAt: row.updated_at,
});

export interface VaultRow {
  vault_id: string; created_at: string; updated_at: string; last_sequence: number; log_count: number; bytes: number;
  compacted_logs: number; compacted_through: number;
}
export const vaultOut = (row: VaultRow) => ({
  vaultId: row.vault_id, createdAt: row.created_at, updatedAt: row.updated_at,
  lastSequence: row.last_sequence, logCount: row.log_count, bytes: row.bytes,
  compactedLogs: row.compacted_logs, compactedThrough: row.compacted_through,
});

/** push_logs' `logs` argument. */
export const pushLogsArgs = (body: PushBody) => ({
  vault_id: body.vaultId,
  logs: body.logs.map((l) => ({
    id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp, device_id: l.deviceId,
    record_key: l.recordKey,
  })),
});

export interface PushAnswer {
  last_sequence: number; results: Array<{ id: string; sequence: number; duplicate: boolean }>; compaction_due?: boolean;
}
export const pushOut = (answer: PushAnswer) => answer.compaction_due === true
  ? { lastSequence: answer.last_sequence, logs: answer.results ?? [], compactionDue: true }
  : { lastSequence: answer.last_sequence, logs: answer.results ?? [] };

export interface CompactAnswer { removed: number; remaining: number; complete: boolean }

// --- pull ----------------------------------------------------------------------------------------

/**
 * The PostgREST reads behind POST /pull. Both are ONE request and ONE SQL statement, both are index
 * range scans on sync_logs' primary key (vault_id, sequence) with RLS, and both know `hasMore`
 * exactly without an extra query:
 *
 * 1. limit + 1 <= PostgREST's max_rows (SYNC_POSTGREST_MAX_ROWS, 1000 like supabase/config.toml and
 *    hosted Supabase): the plain table read of limit + 1 rows (the fastest shape, measured ~0.55x of
 *    the SQL floor); the extra row only says "there is more" and is dropped.
 *      GET /sync_logs?select=...&vault_id=eq.V&sequence=gt.N&order=sequence.asc&limit=L+1
 * 2. Otherwise (limit = 1000 with max_rows = 1000): PostgREST would silently cap the read at 1000 rows
 *    and hasMore would be wrong, and the pull_logs rpc has the same cap. So we read the vault row with
 *    the page embedded, and its last_sequence in the same snapshot:
 *      GET /vaults?select=lastSequence:last_sequence,logs:sync_logs(...)&id=eq.V
 *          &logs.sequence=gt.N&logs.order=sequence.asc&logs.limit=L
 *    Sequences are gap-free and committed together with last_sequence (push_logs updates both under
 *    the vault's row lock), so hasMore = lastReturned < lastSequence is exact. PostgREST 12 casts the
 *    embedded page to jsonb, which makes this read ~1.5-2x slower in PostgreSQL than shape 1: raising
 *    max_rows to 1001 moves pages of 1000 to shape 1.
 *
 * A vault that is not the caller's, or does not exist, gives an empty page in both shapes (RLS), as
 * pull_logs does: `{ logs: [], hasMore: false, nextSequence: afterSequence }`.
 *
 * Columns are renamed to the API's camelCase by PostgREST itself and the page is passed through as
 * text, without JSON.parse/stringify of up to megabytes (see pullOut / tablePullOut).
 */
export const PULL_COLUMNS = 'id,encryptedData:encrypted_data,nonce,haexTimestamp:haex_timestamp,deviceId:device_id,'
  + 'createdAt:created_at,sequence';

export const usesTableRead = (body: PullBody, postgrestMaxRows: number) => body.limit + 1 <= postgrestMaxRows;

export function pullPath(body: PullBody, postgrestMaxRows: number): string {
  if (usesTableRead(body, postgrestMaxRows)) {
    return `/sync_logs?select=${PULL_COLUMNS}&vault_id=eq.${body.vaultId}&sequence=gt.${body.afterSequence}`
      + `&order=sequence.asc&limit=${body.limit + 1}`;
  }
  return `/vaults?select=lastSequence:last_sequence,logs:sync_logs(${PULL_COLUMNS})&id=eq.${body.vaultId}`
    + `&logs.sequence=gt.${body.afterSequence}&logs.order=sequence.asc&logs.limit=${body.limit}`;
}

const emptyPage = (afterSequence: number) => `{"logs":[],"hasMore":false,"nextSequence":${afterSequence}}`;
const SEQUENCE_KEY = '"sequence":';
/** The number after the last `"sequence":` key (a key cannot occur inside a JSON string, where every
 *  quote is escaped; rows are ascending), or undefined. */
function lastSequenceIn(json: string): number | undefined {
  const at = json.lastIndexOf(SEQUENCE_KEY);
  if (at < 0) return undefined;
  const digits = /^\s*(\d+)/.exec(json.slice(at + SEQUENCE_KEY.length, at + SEQUENCE_KEY.length + 32));
  return digits ? Number(digits[1]) : undefined;
}

/** Shape 1 -> the API page as JSON text. Rows start with the `id` key (first in PULL_COLUMNS). */
export function tablePullOut(postgrestBody: string, body: PullBody): string {
  const rowStart = /\{\s*"id"\s*:/g;
  let rows = 0;
  let lastStart = -1;
  for (let m = rowStart.exec(postgrestBody); m; m = rowStart.exec(postgrestBody)) {
    rows++;
    lastStart = m.index;
  }
  if (rows === 0) {
    if (/^\s*\[\s*\]\s*$/.test(postgrestBody)) return emptyPage(body.afterSequence);
    return tablePullOutParsed(postgrestBody, body);
  }
  let logs = postgrestBody.trimEnd();
  const hasMore = rows > body.limit;
  if (hasMore) logs = `${postgrestBody.slice(0, lastStart).replace(/\s*,\s*$/, '')}]`;
  const last = lastSequenceIn(logs);
  if (last === undefined || rows > body.limit + 1) return tablePullOutParsed(postgrestBody, body);
  return `{"logs":${logs},"hasMore":${hasMore},"nextSequence":${last}}`;
}

export function tablePullOutParsed(postgrestBody: string, body: PullBody): string {
  const rows = JSON.parse(postgrestBody) as Array<{ sequence: number }>;
  if (!Array.isArray(rows)) throw new HttpError(502, 'internal', 'unexpected database answer');
  const logs = rows.slice(0, body.limit);
  const last = logs.length > 0 ? logs[logs.length - 1]!.sequence : body.afterSequence;
  return JSON.stringify({ logs, hasMore: rows.length > body.limit, nextSequence: last });
}

const PULL_HEAD = /^\s*\[\s*\{\s*"lastSequence"\s*:\s*(\d+)\s*,\s*"logs"\s*:\s*/;
const PULL_TAIL = /\s*\}\s*\]\s*$/;

/** Shape 2 -> the API page as JSON text; any unexpected shape takes the parsing path. */
export function pullOut(postgrestBody: string, afterSequence: number): string {
  const head = PULL_HEAD.exec(postgrestBody);
  const tail = PULL_TAIL.exec(postgrestBody);
  if (head && tail && tail.index > head[0].length) {
    const lastSequence = Number(head[1]);
    const logs = postgrestBody.slice(head[0].length, tail.index);
    let last = lastSequenceIn(logs);
    if (last === undefined) {
      if (!/^\[\s*\]$/.test(logs)) return pullOutParsed(postgrestBody, afterSequence);
      last = afterSequence;
    }
    return `{"logs":${logs},"hasMore":${last < lastSequence},"nextSequence":${last}}`;
  }
  return pullOutParsed(postgrestBody, afterSequence);
}

export function pullOutParsed(postgrestBody: string, afterSequence: number): string {
  const rows = JSON.parse(postgrestBody) as Array<{ lastSequence: number; logs: Array<{ sequence: number }> | null }>;
  if (!Array.isArray(rows)) throw new HttpError(502, 'internal', 'unexpected database answer');
  const row = rows[0];
  if (!row) return emptyPage(afterSequence);
  const logs = row.logs ?? [];
  const last = logs.length > 0 ? logs[logs.length - 1]!.sequence : afterSequence;
  return JSON.stringify({ logs, hasMore: last < row.lastSequence, nextSequence: last });
}
