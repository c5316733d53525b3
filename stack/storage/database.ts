/**
 * How the embedded Storage talks to Postgres, as Supabase Storage does (supabase/storage,
 * src/internal/database/postgres/scope.ts): it connects as `supabase_storage_admin`, the owner of
 * storage.buckets and storage.objects, and runs every request that acts for a caller in one
 * transaction that first sets, transaction-locally, `role` (the JWT's role), `request.jwt.claims`,
 * `request.jwt.claim.sub`, `request.jwt.claim.role`, `request.jwt`, `request.method`,
 * `request.path`, `storage.operation` and `storage.allow_delete_query` (the protect_delete triggers
 * let the API delete rows). RLS policies on the storage tables therefore decide exactly as on hosted
 * Supabase; `service_role` has BYPASSRLS. Work "as super user" (Storage's asSuperUser: bucket
 * lookups for public reads, signed URLs) runs as the owner, which RLS does not restrict.
 *
 * A permission probe (Storage's testPermission) runs the write under the caller's role and always
 * rolls back.
 */
import postgres from 'postgres';
import type { Caller } from './auth.ts';
import { ERRORS, fromDatabaseError, StorageError } from './errors.ts';

export type Tx = postgres.TransactionSql;

const PROBE_ROLLBACK = Symbol('probe rollback');

export interface RequestScope {
  caller: Caller;
  operation: string;
  method: string;
  path: string;
}

export class StorageDatabase {
  readonly sql: postgres.Sql;

  constructor(url: string) {
    this.sql = postgres(url, {
      max: 8, onnotice: () => {}, idle_timeout: 60,
      connection: { application_name: 'storage_embedded' },
      // bigint (file_size_limit, sizes) as numbers: far below 2^53 here.
      types: { bigint: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) } },
    });
  }

  /** Runs `fn` in one transaction as the caller (see the module doc); database errors map to Storage's. */
  async asCaller<T>(scope: RequestScope, fn: (sql: Tx) => Promise<T>): Promise<T> {
    try {
      return await this.sql.begin(async (sql) => {
        await setScope(sql, scope);
        return fn(sql);
      }) as T;
    } catch (error) {
      throw mapError(error);
    }
  }

  /** As the storage admin (RLS does not apply): Storage's asSuperUser. */
  async asAdmin<T>(operation: string, fn: (sql: Tx) => Promise<T>): Promise<T> {
    try {
      return await this.sql.begin(async (sql) => {
        await sql`select set_config('storage.operation', ${operation}, true),
          set_config('storage.allow_delete_query', 'true', true)`;
        return fn(sql);
      }) as T;
    } catch (error) {
      throw mapError(error);
    }
  }

  /** Runs a write as the caller and rolls it back: throws Storage's error if RLS (or a constraint) refuses. */
  async probe(scope: RequestScope, fn: (sql: Tx) => Promise<unknown>): Promise<void> {
    try {
      await this.sql.begin(async (sql) => {
        await setScope(sql, scope);
        await fn(sql);
        throw PROBE_ROLLBACK;
      });
    } catch (error) {
      if (error === PROBE_ROLLBACK) return;
      throw mapError(error);
    }
  }

  close() {
    return this.sql.end({ timeout: 5 });
  }
}

async function setScope(sql: Tx, scope: RequestScope) {
  const { caller } = scope;
  await sql`select
    set_config('role', ${caller.role}, true),
    set_config('request.jwt.claim.role', ${caller.role}, true),
    set_config('request.jwt', ${caller.token ?? ''}, true),
    set_config('request.jwt.claim.sub', ${caller.sub ?? ''}, true),
    set_config('request.jwt.claims', ${JSON.stringify(caller.claims)}, true),
    set_config('request.method', ${scope.method}, true),
    set_config('request.path', ${scope.path}, true),
    set_config('storage.operation', ${scope.operation}, true),
    set_config('storage.allow_delete_query', 'true', true)`;
}

function mapError(error: unknown): unknown {
  if (error instanceof StorageError) return error;
  const mapped = fromDatabaseError(error);
  if (mapped) return mapped;
  const code = (error as { code?: string } | null)?.code;
  // A uuid or other value Postgres cannot parse: bad input, not a server fault.
  if (code === '22P02' || code === '22023') return ERRORS.invalidRequest((error as Error).message);
  return error;
}
