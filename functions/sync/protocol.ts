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
 *               -> 200 { logs: [{ id, sequence, encryptedData, nonce, haexTimestamp, deviceId, createdAt, recordKey }],
 *                        hasMore, nextSequence, lastSequence, compactedThrough }
 *               404 not_found (vault absent, deleted or not the caller's),
 *               409 cursor_ahead (afterSequence > the vault's lastSequence)
 *
 * Limits (defaults; SYNC_* env vars, see functions/_shared/config.ts): 1..1000 logs per push;
 * encryptedData non-empty padded base64 of at most 524,288 characters, at most 16 MiB summed per push;
 * log nonce 1..64 characters, haexTimestamp 1..128, deviceId 0..128 (or null/absent), recordKey 1..64
 * characters of unpadded base64url (or null/absent: never compacted); vault key:
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
 * POST /pull is ONE PostgREST request and ONE SQL statement: the pull_logs rpc, inlined by PostgreSQL
 * into an index range scan on sync_logs (see supabase/migrations/..._recreate_pull_logs_with_page_state.sql).
 * The page's state comes with it from the database, in the same snapshot: every row carries the
 * vault's lastSequence, hasMore and nextSequence, so nothing here depends on PostgREST's max_rows or
 * guesses from the page length (a page holds at most 1000 rows, under any max_rows of 1000 or more).
 * pull_logs also ends a page at the byte budget of private.limits() (always >= 1 log).
 *
 * PostgREST renames the columns to the API's camelCase itself (`select=`), with the state columns
 * first in each row; the page is passed through as text: the state prefix of each row is cut off
 * instead of JSON.parse/stringify of up to megabytes (pageOut; any unexpected shape takes the
 * parsing path, pageOutParsed). A page without logs is one row whose log columns are null.
 */
export const PULL_COLUMNS = 'lastSequence:last_sequence,hasMore:has_more,nextSequence:next_sequence,'
  + 'compactedThrough:compacted_through,'
  + 'id,encryptedData:encrypted_data,nonce,haexTimestamp:haex_timestamp,deviceId:device_id,createdAt:created_at,'
  + 'recordKey:record_key,sequence';

/** The rpc path and body of a pull. */
export const pullRpc = (body: PullBody) => ({
  path: `/rpc/pull_logs?select=${PULL_COLUMNS}`,
  args: { vault_id: body.vaultId, after_sequence: body.afterSequence, max_count: body.limit },
});

const unexpected = () => new HttpError(500, 'internal', 'unexpected database answer');
const STATE = /\{"lastSequence":(\d+),"hasMore":(true|false),"nextSequence":(\d+),"compactedThrough":(\d+),/g;
const EMPTY_ROW =
  /^\s*\[\s*\{"lastSequence":(\d+),"hasMore":false,"nextSequence":(\d+),"compactedThrough":(\d+),"id":null,[^{}]*\}\s*\]\s*$/;

const page = (logs: string, hasMore: boolean, nextSequence: number, lastSequence: number, compactedThrough: number) =>
  `{"logs":${logs},"hasMore":${hasMore},"nextSequence":${nextSequence},"lastSequence":${lastSequence},`
  + `"compactedThrough":${compactedThrough}}`;

/** pull_logs rows (as PULL_COLUMNS selects them) -> the API page as JSON text. */
export function pageOut(rows: string): string {
  const empty = EMPTY_ROW.exec(rows);
  if (empty) return page('[]', false, Number(empty[2]), Number(empty[1]), Number(empty[3]));
  STATE.lastIndex = 0;
  const first = STATE.exec(rows);
  if (!first || !/^\s*\[\s*$/.test(rows.slice(0, first.index))) return pageOutParsed(rows);
  let count = 0;
  const logs = rows.replace(STATE, (match, last, more, next, compacted) =>
    last === first[1] && more === first[2] && next === first[3] && compacted === first[4] ? (count++, '{') : match);
  // Every row must have had the same state; anything else is parsed (and checked) properly.
  if (count === 0 || logs.includes('"lastSequence":')) return pageOutParsed(rows);
  return page(logs.trimEnd(), first[2] === 'true', Number(first[3]), Number(first[1]), Number(first[4]));
}

interface PullRowOut {
  lastSequence: number; hasMore: boolean; nextSequence: number; compactedThrough: number; id: string | null; [k: string]: unknown;
}

export function pageOutParsed(text: string): string {
  let rows: PullRowOut[];
  try {
    rows = JSON.parse(text) as PullRowOut[];
  } catch {
    throw unexpected();
  }
  if (!Array.isArray(rows) || rows.length === 0) throw unexpected();
  const { lastSequence, hasMore, nextSequence, compactedThrough } = rows[0]!;
  if (rows.some((r) => r.lastSequence !== lastSequence || r.hasMore !== hasMore || r.nextSequence !== nextSequence
    || r.compactedThrough !== compactedThrough)) {
    throw unexpected();
  }
  const logs = rows[0]!.id === null ? []
    : rows.map(({ lastSequence: _l, hasMore: _h, nextSequence: _n, compactedThrough: _c, ...log }) => log);
  return JSON.stringify({ logs, hasMore, nextSequence, lastSequence, compactedThrough });
}
