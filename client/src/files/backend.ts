/**
 * Where files.ts keeps a file: its objects in Supabase Storage (bucket `vault-files`, through
 * supabase-js' `storage`, so the same code runs on hosted Supabase, `supabase start` and the embedded
 * stack) and its record in `public.vault_files` (through PostgREST: the table under RLS for reads,
 * SQL functions for writes; supabase/schemas). One interface, so unit tests can hand files.ts an
 * in-memory double; only the tests do.
 *
 * Error mapping of Storage answers: 404 (and Storage's 400 with statusCode "404": an object the
 * caller may not see does not exist for them) -> absent / NotFoundError; 409 on an upload without
 * upsert -> 'exists'; 413 -> ValidationError (code `payload_too_large`); 403 (and 400 with statusCode
 * "403": an RLS refusal, e.g. a reader's upload or one past the quota) -> ForbiddenError;
 * 401 -> TransportError; 5xx and network failures -> TransportError (retryable where a repeat may succeed).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { errorFromStatus, TransportError, UsageError } from '../errors.ts';
import { call } from '../transport/rpc.ts';

export const FILES_BUCKET = 'vault-files';

/** An object as a folder listing shows it (`name` relative to the folder). */
export interface ListedObject { name: string; size: number | undefined; createdAt: string | undefined; folder: boolean }

/** A file's record: written once its last chunk is stored (register_file). */
export interface FileRecord { fileId: string; size: number; chunkCount: number; createdAt: string }

export interface FileBackend {
  /** Stores `body` at `path`; without `upsert`, an existing object is left alone and 'exists' returned. */
  upload(path: string, body: Uint8Array<ArrayBuffer>, options: { upsert: boolean }): Promise<'stored' | 'exists'>;
  /** The object's bytes, or undefined when there is none (or the caller may not see it). */
  download(path: string, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  /** One page of the folder's entries (sorted by name), `limit` at most, from `offset`. */
  list(folder: string, options: { limit: number; offset: number }): Promise<ListedObject[]>;
  /** Removes these objects (absent ones, and ones the caller may not remove, are skipped); returns how many went. At most 1,000 paths a call. */
  remove(paths: string[]): Promise<number>;
  /** Checks that `bytes` more fit the vault's quota (QuotaExceededError, 413 `quota_exceeded`, when not). */
  checkQuota(vaultId: string, bytes: number): Promise<void>;
  /** Records the file as complete; the server checks its objects (register_file). Idempotent. */
  register(vaultId: string, fileId: string, size: number, chunkCount: number): Promise<FileRecord>;
  record(vaultId: string, fileId: string): Promise<FileRecord | undefined>;
  /** One page of the vault's complete files, oldest first (createdAt, then fileId). */
  records(vaultId: string, options: { limit: number; offset: number }): Promise<FileRecord[]>;
  /** Drops the file's record (forget_file), before its objects are removed. Idempotent. */
  forget(vaultId: string, fileId: string): Promise<void>;
  /** Used bytes (logs and files), file bytes and quota of each of the caller's vaults (list_vault_usage). */
  usage(): Promise<Map<string, { usedBytes: number; fileBytes: number; quotaBytes: number | null }>>;
  /** The owner starts deleting the vault: no new objects from now on (prepare_vault_deletion). */
  prepareVaultDeletion(vaultId: string): Promise<void>;
}

interface StorageError { status?: number; statusCode?: string; message?: string; name?: string }

function storageFailure(what: string, error: StorageError): Error {
  const status = Number(error.status) || 0;
  const code = String(error.statusCode ?? status);
  if (status === 404 || (status === 400 && code === '404')) return errorFromStatus(404, 'not_found', `${what}: ${error.message}`);
  if (status === 413) return errorFromStatus(413, 'payload_too_large', `${what}: ${error.message}`, 'data');
  // Storage answers an RLS refusal as 400 with statusCode "403" ("new row violates row-level security policy").
  if (status === 403 || (status === 400 && code === '403')) return errorFromStatus(403, 'forbidden', `${what}: ${error.message}`);
  if (status === 0 || error.name === 'StorageUnknownError') {
    return new TransportError(`${what}: ${error.message}`, 0, 'network', true, undefined, undefined, { cause: error });
  }
  return errorFromStatus(status, code, `${what}: ${error.message}`);
}

const isAbsent = (error: StorageError) => {
  const status = Number(error.status);
  return status === 404 || (status === 400 && String(error.statusCode) === '404');
};
const isDuplicate = (error: StorageError) =>
  Number(error.status) === 409 || String(error.statusCode) === '409' || String(error.statusCode) === 'Duplicate';

interface FileRow { file_id: string; size: number | string; chunk_count: number | string; created_at: string }
const toRecord = (row: FileRow): FileRecord =>
  ({ fileId: row.file_id, size: Number(row.size), chunkCount: Number(row.chunk_count), createdAt: row.created_at });

/** The backend of a signed-in supabase-js client. */
export function supabaseFileBackend(supabase: SupabaseClient<any, any, any> | undefined): FileBackend {
  if (!supabase) throw new UsageError('files need HaexSyncClient.create({ supabase })');
  const bucket = () => supabase.storage.from(FILES_BUCKET);
  const rpc = <T>(fn: string, args: Record<string, unknown>) =>
    call<T>(fn, () => supabase.rpc(fn, args) as unknown as PromiseLike<{ data: T | null; error: any; status: number }>);
  const select = async (fn: string, build: (q: any) => any): Promise<FileRow[]> =>
    (await call<FileRow[]>(fn, () => build(supabase.from('vault_files').select('file_id, size, chunk_count, created_at')))) ?? [];
  return {
    async upload(path, body, { upsert }) {
      const { error } = await bucket().upload(path, body, { upsert, contentType: 'application/octet-stream' });
      if (!error) return 'stored';
      if (!upsert && isDuplicate(error as StorageError)) return 'exists';
      throw storageFailure(`upload ${path}`, error as StorageError);
    },
    async download(path, signal) {
      const { data, error } = await bucket().download(path, undefined, signal ? { signal } : undefined);
      if (error) {
        if (isAbsent(error as StorageError)) return undefined;
        throw storageFailure(`download ${path}`, error as StorageError);
      }
      return new Uint8Array(await data.arrayBuffer());
    },
    async list(folder, { limit, offset }) {
      const { data, error } = await bucket().list(folder, { limit, offset, sortBy: { column: 'name', order: 'asc' } });
      if (error) throw storageFailure(`list ${folder}`, error as StorageError);
      return (data ?? []).map((o) => ({
        name: o.name, folder: o.id === null, createdAt: o.created_at ?? undefined,
        size: typeof o.metadata?.size === 'number' ? o.metadata.size : undefined,
      }));
    },
    async remove(paths) {
      if (paths.length === 0) return 0;
      const { data, error } = await bucket().remove(paths);
      if (error) throw storageFailure(`remove ${paths.length} objects`, error as StorageError);
      return data?.length ?? 0;
    },
    async checkQuota(vaultId, bytes) {
      await rpc('check_vault_quota', { vault_id: vaultId, bytes });
    },
    async register(vaultId, fileId, size, chunkCount) {
      const rows = await rpc<FileRow[]>('register_file', { vault_id: vaultId, file_id: fileId, size, chunk_count: chunkCount });
      const row = rows?.[0];
      if (!row) throw new TransportError('register_file: unexpected answer', 502, 'unexpected_answer', false);
      return toRecord(row);
    },
    async record(vaultId, fileId) {
      const rows = await select('vault_files', (q) => q.eq('vault_id', vaultId).eq('file_id', fileId));
      return rows[0] && toRecord(rows[0]);
    },
    async records(vaultId, { limit, offset }) {
      const rows = await select('vault_files', (q) =>
        q.eq('vault_id', vaultId).order('created_at').order('file_id').range(offset, offset + limit - 1));
      return rows.map(toRecord);
    },
    async forget(vaultId, fileId) {
      await rpc('forget_file', { vault_id: vaultId, file_id: fileId });
    },
    async usage() {
      type Row = { vault_id: string; used_bytes: number | string; file_bytes: number | string; quota_bytes: number | string | null };
      const rows = await rpc<Row[]>('list_vault_usage', {});
      return new Map((rows ?? []).map((r) => [r.vault_id, {
        usedBytes: Number(r.used_bytes), fileBytes: Number(r.file_bytes), quotaBytes: r.quota_bytes === null ? null : Number(r.quota_bytes),
      }]));
    },
    async prepareVaultDeletion(vaultId) {
      await rpc('prepare_vault_deletion', { vault_id: vaultId });
    },
  };
}
