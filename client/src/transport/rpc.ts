/**
 * rpcTransport: the SQL API (supabase/migrations, docs/sql-api.md) through supabase-js `.rpc()`.
 * Typed by the generated client/src/database.types.ts (`SupabaseClient<Database>`).
 *
 * Error mapping (PostgREST): PT404 -> NotFoundError, PT409 -> ConflictError (hint `vault_deleted` ->
 * VaultDeletedError, `cursor_ahead` -> CursorAheadError), PT400/PT413 -> ValidationError (field = the
 * error's `details`, which the SQL functions set to the argument path); network failure (status 0),
 * 408, 429, 502-504 and the transient SQLSTATEs (timeout, deadlock, serialization, out of resources)
 * -> TransportError{retryable: true}; 401 -> SessionRevokedError (PT401 session_revoked), ApiKeyError
 * (the gateway refused the apikey) or UnauthorizedError; others (403, 500, unexpected shapes) ->
 * TransportError{retryable: false}. supabase-js does not expose response headers, so Retry-After is
 * not seen through this transport.
 * Push (issue 25, item 3): push_log_columns, the logs as columns; a server without it (PGRST202)
 * is pushed to through push_logs (JSON objects) from then on. Both answer alike.
 * Pull (issue 25): pull_page answers the page as the HTTP API's JSON text (docs/http-api.md), built
 * at push and sent by PostgREST as it is (media-type domain; the request must say
 * `Accept: application/json`). So a page is one request and one JSON.parse (postgrest-js's), and its
 * logs are StoredLogs as parsed: no per-row mapping, no second copy. Its generated type is `unknown`
 * (a text domain); PullPageAnswer below is the one hand-kept type of it, derived from the generated
 * sync_logs Row (a column change shows here), and tests/pull-contract.test.ts checks that pull_page's
 * page equals pull_logs' rows field for field. A server without pull_page (PGRST202) is read
 * through pull_logs, whose one row is mapped per log as before.
 */
import type { PostgrestError, SupabaseClient } from '@supabase/supabase-js';
import type { Database, Json } from '../database.types.ts';
import type { DeviceInfo, DeviceTransport } from '../devices.ts';
import { apiKeyCode, errorFromStatus, TransportError } from '../errors.ts';
import type { EncryptedLog, StoredLog } from '../log-crypto.ts';
import { type CompactResult, isCompactStatus, type PullResult, type PushResult, type SyncTransport, type VaultKeyRecord, type VaultSummary } from './types.ts';

type Client = SupabaseClient<Database>;

type SyncLogRow = Database['public']['Tables']['sync_logs']['Row'];
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
/** One log of pull_page's page: a sync_logs row (without its stored wire) with camelCase keys. */
export type PullPageLog = { [K in keyof Omit<SyncLogRow, 'wire'> as CamelCase<K & string>]: SyncLogRow[K] };
/** pull_page's answer: the HTTP API's page. */
export interface PullPageAnswer { logs: PullPageLog[]; hasMore: boolean; nextSequence: number; lastSequence: number; compactedThrough: number }
// The page's logs are the library's StoredLogs as they are (a compile-time check, no mapping at run time).
const pageLogsAreStoredLogs = (page: PullPageAnswer): StoredLog[] => page.logs;
type KeyRow = Database['public']['Functions']['create_vault']['Returns'][number] & { key_generation?: number };

interface RpcAnswer<T> { data: T | null; error: PostgrestError | null; status: number }

/** SQLSTATEs of failures that a repeat may not meet (as the Edge Function's error table has them). */
const TRANSIENT = /^(57014|40001|40P01|55P03|53|57P0[1-3]|08)/;
/** The 409s an app acts on, told apart by the SQL error's hint. */
const CONFLICT_HINTS = new Set(['file_incomplete', 'vault_files_remain', 'vault_deleted', 'cursor_ahead', 'stale_key_generation', 'generation_changed',
  'members_changed', 'invitation_closed', 'invitation_expired', 'already_member', 'identity_exists', 'identity_required', 'chain_changed']);

function fail(fn: string, error: PostgrestError, status: number): never {
  const code = error.code ?? '';
  const httpStatus = /^PT\d{3}$/.test(code) ? Number(code.slice(2)) : TRANSIENT.test(code) ? 503 : status;
  const field = typeof error.details === 'string' && error.details !== '' ? error.details : undefined;
  const apiCode = code === 'PT409' && CONFLICT_HINTS.has(error.hint ?? '') ? error.hint!
    : code === 'PT401' && error.hint === 'session_revoked' ? 'session_revoked' // issue 19
    : code === 'PT413' && error.hint === 'quota_exceeded' ? 'quota_exceeded' // issue 26
    : code || apiKeyCode(status, error.message) || (status === 0 ? 'network' : `http_${status}`);
  throw errorFromStatus(httpStatus, apiCode, `${fn}: ${error.message}`, field, error.details, undefined, error);
}

/** One rpc with the error mapping above (also used by sharing/api.ts). */
export async function call<T>(fn: string, run: () => PromiseLike<RpcAnswer<T>>): Promise<T> {
  let answer: RpcAnswer<T>;
  try {
    answer = await run();
  } catch (cause) {
    throw new TransportError(`${fn}: ${(cause as Error)?.message ?? String(cause)}`, 0, 'network', true, undefined,
      undefined, { cause });
  }
  if (answer.error) fail(fn, answer.error, answer.status);
  return answer.data as T;
}

function single(fn: string, rows: KeyRow[] | null): VaultKeyRecord {
  const row = Array.isArray(rows) && rows.length === 1 ? rows[0]! : undefined;
  if (!row) throw new TransportError(`${fn}: unexpected answer`, 502, 'unexpected_answer', false);
  const record: VaultKeyRecord = {
    vaultId: row.vault_id, encryptedVaultKey: row.encrypted_vault_key, salt: row.salt, nonce: row.nonce,
    createdAt: row.created_at, updatedAt: row.updated_at,
  };
  const generation = Number(row.key_generation ?? 1);
  if (generation > 1) record.keyGeneration = generation;
  return record;
}

type DeviceRow = Database['public']['Functions']['list_devices']['Returns'][number];
const deviceOf = (r: DeviceRow): DeviceInfo => ({
  id: r.id, name: r.name, createdAt: r.created_at, lastSeenAt: r.last_seen_at, current: r.current, revokedAt: r.revoked_at,
});

/** push_log_columns' and push_logs' answer (jsonb). */
interface PushAnswer { last_sequence?: unknown; results?: unknown; compaction_due?: unknown }
type PushColumns = Database['public']['Functions']['push_log_columns']['Args'];
/**
 * push_log_columns' arguments (issue 25, item 3): log i is element i of each array, which PostgREST
 * binds as uuid[] / text[] / bigint[] (no JSON object per log to parse). record_keys and
 * key_generations are sent only when some log has one; their elements may be null (the generated
 * type cannot say so). deviceId is not sent: the server sets it from the session.
 */
function pushColumns(vaultId: string, logs: EncryptedLog[]): PushColumns {
  const n = logs.length;
  const args: PushColumns = {
    vault_id: vaultId, ids: new Array<string>(n), encrypted_data: new Array<string>(n), nonces: new Array<string>(n),
    haex_timestamps: new Array<string>(n),
  };
  const recordKeys = new Array<string | null>(n);
  const keyGenerations = new Array<number | null>(n);
  let keyed = false;
  let generations = false;
  for (let i = 0; i < n; i++) {
    const l = logs[i]!;
    args.ids[i] = l.id;
    args.encrypted_data[i] = l.encryptedData;
    args.nonces[i] = l.nonce;
    args.haex_timestamps[i] = l.haexTimestamp;
    recordKeys[i] = l.recordKey ?? null;
    keyGenerations[i] = l.keyGeneration ?? null;
    keyed ||= recordKeys[i] !== null;
    generations ||= keyGenerations[i] !== null;
  }
  if (keyed) args.record_keys = recordKeys as string[];
  if (generations) args.key_generations = keyGenerations as number[];
  return args;
}

export function rpcTransport(supabase: SupabaseClient<any, any, any>): SyncTransport & DeviceTransport {
  const db = supabase as unknown as Client;
  let legacyPull = false;
  let legacyPush = false;
  return {
    name: 'rpc',
    async createVault(vaultId, key) {
      return single('create_vault', await call('create_vault', () => db.rpc('create_vault', {
        vault_id: vaultId, encrypted_vault_key: key.encryptedVaultKey, salt: key.salt, nonce: key.nonce,
      })));
    },
    async getVaultKey(vaultId) {
      return single('get_vault_key', await call('get_vault_key', () => db.rpc('get_vault_key', { vault_id: vaultId })));
    },
    async updateVaultKey(vaultId, key, ifUpdatedAt) {
      return single('update_vault_key', await call('update_vault_key', () => db.rpc('update_vault_key', {
        vault_id: vaultId, encrypted_vault_key: key.encryptedVaultKey, salt: key.salt, nonce: key.nonce,
        if_updated_at: ifUpdatedAt,
      })));
    },
    async listVaults(): Promise<VaultSummary[]> {
      const rows = await call('list_vaults', () => db.rpc('list_vaults'));
      return (rows ?? []).map((r) => ({
        vaultId: r.vault_id, createdAt: r.created_at, updatedAt: r.updated_at, lastSequence: Number(r.last_sequence),
        logCount: Number(r.log_count), bytes: Number(r.bytes), compactedLogs: Number(r.compacted_logs),
        compactedThrough: Number(r.compacted_through), role: r.role as VaultSummary['role'],
        keyGeneration: Number(r.key_generation), keyRotationDue: r.key_rotation_due,
      }));
    },
    async deleteVault(vaultId) {
      await call('delete_vault', () => db.rpc('delete_vault', { vault_id: vaultId }));
    },
    async push(vaultId, logs): Promise<PushResult> {
      let answer: PushAnswer | null = null;
      if (!legacyPush) {
        try {
          answer = await call('push_log_columns', () => db.rpc('push_log_columns', pushColumns(vaultId, logs))) as PushAnswer | null;
        } catch (error) {
          // PostgREST's "no such function": a server from before issue 25; push through push_logs from now on.
          if ((error as { code?: unknown }).code !== 'PGRST202') throw error;
          legacyPush = true;
        }
      }
      if (legacyPush) {
        const body = logs.map((l) => ({
          id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp,
          device_id: l.deviceId ?? null, record_key: l.recordKey ?? null, key_generation: l.keyGeneration ?? null,
        })) satisfies Json;
        answer = await call('push_logs', () => db.rpc('push_logs', { vault_id: vaultId, logs: body })) as PushAnswer | null;
      }
      if (!answer || typeof answer.last_sequence !== 'number' || !Array.isArray(answer.results)) {
        throw new TransportError('push: unexpected answer', 502, 'unexpected_answer', false);
      }
      const result: PushResult = {
        lastSequence: answer.last_sequence,
        logs: (answer.results as Array<{ id: string; sequence: number; duplicate: boolean }>)
          .map((r) => ({ id: r.id, sequence: Number(r.sequence), duplicate: r.duplicate === true })),
      };
      if (answer.compaction_due === true) result.compactionDue = true;
      return result;
    },
    async pull(vaultId, afterSequence, limit): Promise<PullResult> {
      if (!legacyPull) {
        try {
          const page = await call('pull_page', () => db.rpc('pull_page', {
            vault_id: vaultId, after_sequence: afterSequence, max_count: limit,
          }).setHeader('Accept', 'application/json')) as PullPageAnswer | null;
          if (!page || !Array.isArray(page.logs) || typeof page.hasMore !== 'boolean' || !Number.isSafeInteger(page.nextSequence)
            || !Number.isSafeInteger(page.lastSequence)) {
            throw new TransportError('pull_page: unexpected answer', 502, 'unexpected_answer', false);
          }
          return { logs: pageLogsAreStoredLogs(page), hasMore: page.hasMore, nextSequence: page.nextSequence,
            lastSequence: page.lastSequence, compactedThrough: page.compactedThrough };
        } catch (error) {
          // PostgREST's "no such function": a server from before issue 25; read pull_logs from now on.
          if ((error as { code?: unknown }).code !== 'PGRST202') throw error;
          legacyPull = true;
        }
      }
      // One row: the page. (`.single()` would give the object itself, but makes PostgREST take
      // element 0 of its json_agg, which parses the whole page once more inside PostgreSQL.)
      const rows = await call('pull_logs', () => db.rpc('pull_logs', {
        vault_id: vaultId, after_sequence: afterSequence, max_count: limit,
      }));
      const page = Array.isArray(rows) && rows.length === 1 ? rows[0] : undefined;
      if (!page || !Array.isArray(page.logs) || typeof page.has_more !== 'boolean') {
        throw new TransportError('pull_logs: unexpected answer', 502, 'unexpected_answer', false);
      }
      const logs = new Array<StoredLog>(page.logs.length);
      for (let i = 0; i < logs.length; i++) {
        const r = page.logs[i]!;
        logs[i] = {
          id: r.id, sequence: Number(r.sequence), encryptedData: r.encrypted_data, nonce: r.nonce,
          haexTimestamp: r.haex_timestamp, deviceId: r.device_id, createdAt: r.created_at, recordKey: r.record_key,
          keyGeneration: r.key_generation,
        };
      }
      return {
        logs, hasMore: page.has_more, nextSequence: Number(page.next_sequence), lastSequence: Number(page.last_sequence),
        compactedThrough: Number(page.compacted_through),
      };
    },
    // Devices (issue 19, devices.ts).
    async registerDevice(name) {
      const rows = await call('register_device', () => db.rpc('register_device', { device_name: name ?? undefined }));
      if (!Array.isArray(rows) || rows.length !== 1) throw new TransportError('register_device: unexpected answer', 502, 'unexpected_answer', false);
      return deviceOf(rows[0]!);
    },
    async listDevices() {
      return ((await call('list_devices', () => db.rpc('list_devices'))) ?? []).map(deviceOf);
    },
    async revokeDevice(deviceId) {
      await call('revoke_device', () => db.rpc('revoke_device', { device_id: deviceId }));
    },
    async compact(vaultId): Promise<CompactResult> {
      const answer = await call('compact_logs', () => db.rpc('compact_logs', { vault_id: vaultId })) as
        { status?: unknown; removed?: unknown; remaining?: unknown; complete?: unknown; compacted_through?: unknown } | null;
      if (!answer || typeof answer.removed !== 'number' || typeof answer.remaining !== 'number' || !isCompactStatus(answer.status)) {
        throw new TransportError('compact_logs: unexpected answer', 502, 'unexpected_answer', false);
      }
      return { status: answer.status, removed: answer.removed, remaining: answer.remaining, complete: answer.complete === true,
        compactedThrough: Number(answer.compacted_through ?? 0) };
    },
  };
}
