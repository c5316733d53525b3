/**
 * PostgREST for one caller: plain fetch (Deno pools keep-alive connections per origin), the
 * caller's own bearer token, so PostgREST switches to role `authenticated` with the caller's claims
 * and RLS applies to every row. Never the service-role key.
 *
 * Why not supabase-js: it issues the same HTTP request, but builds a client per caller (the token
 * differs per request) and post-processes every response; plain fetch skips both on the hot path.
 *
 * Errors: PostgREST's `{ code, message, details, hint }` becomes an HttpError. Our SQL raises
 * PTxyz codes (status xyz) with `details` = the field path in snake_case (`logs[3].encrypted_data`),
 * which we translate to the API's camelCase names.
 */
import { pullPath, tablePullOut, pullOut, usesTableRead } from '../sync/protocol.ts';
import { type Caller, requireUser } from './auth.ts';
import type { SyncConfig } from './config.ts';
import { HttpError } from './errors.ts';

/**
 * What the routes need from the database; `RestDb` (below, PostgREST) and `DirectDb` (db-direct.ts,
 * a pooled postgres.js connection) implement it, routes.ts picks one at start (SYNC_DB_TRANSPORT).
 * Both run the same SQL functions as role `authenticated` with the caller's claims, so RLS and the
 * functions' `auth.uid()` checks decide in either case, and both answer the same JSON.
 */
export interface SyncDb {
  /** The signed-in caller of a request, or 401 before any database work. */
  authenticate(authorization: string | null): Promise<Caller>;
  /** Calls a set-returning SQL function `public.<fn>` with named arguments: its rows. */
  rows<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T[]>;
  /** Calls a scalar SQL function: its (JSON) value, null for void. */
  value<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T>;
  /** POST /pull: the API page `{ logs, hasMore, nextSequence }` as JSON text. */
  pull(caller: Caller, input: PullRequest): Promise<string>;
}

export interface PullRequest {
  vaultId: string;
  afterSequence: number;
  limit: number;
}

interface PostgrestError {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

/** snake_case SQL names -> the API's camelCase names, in messages and field paths. */
const FIELD_NAMES: Record<string, string> = {
  vault_id: 'vaultId',
  encrypted_vault_key: 'encryptedVaultKey',
  if_updated_at: 'ifUpdatedAt',
  encrypted_data: 'encryptedData',
  haex_timestamp: 'haexTimestamp',
  device_id: 'deviceId',
  record_key: 'recordKey',
  after_sequence: 'afterSequence',
  max_count: 'limit',
};
const FIELD_PATTERN = new RegExp(`\\b(${Object.keys(FIELD_NAMES).join('|')})\\b`, 'g');
const apiNames = (text: string) => text.replace(FIELD_PATTERN, (name) => FIELD_NAMES[name]!);

const STATUS_CODES: Record<number, HttpError['code']> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large',
};

/** A database error as both transports see it: PostgREST's JSON body, or postgres.js' PostgresError
 *  (whose `detail` is PostgREST's `details`). */
export interface SqlError {
  code?: string;
  message?: string;
  details?: string | null;
}

/**
 * Maps a database error to the API's error; shared by both transports (db-direct.ts passes
 * status 0). Unknown failures: 502 `internal`, no internals leaked.
 */
export function mapSqlError(status: number, body: SqlError | undefined, source = 'PostgREST'): HttpError {
  const code = body?.code ?? '';
  const message = apiNames(body?.message ?? 'request failed');
  const details = typeof body?.details === 'string' && body.details !== '' ? apiNames(body.details) : undefined;
  const pt = /^PT(\d{3})$/.exec(code);
  if (pt) {
    const ptStatus = Number(pt[1]);
    const apiCode = STATUS_CODES[ptStatus];
    if (apiCode) return new HttpError(ptStatus, apiCode, message, details);
  }
  if (/^PGRST3\d\d$/.test(code) || status === 401) return new HttpError(401, 'unauthorized', 'invalid or expired JWT');
  if (code === '42501' || status === 403) return new HttpError(403, 'forbidden', 'not allowed');
  // Data exceptions (invalid text representation, untranslatable character, ...): bad input that
  // slipped past validation. Still the client's fault, never a 500.
  if (/^22/.test(code)) return new HttpError(400, 'bad_request', message, details);
  if (code === '23505') return new HttpError(409, 'conflict', message, details);
  console.error(`sync: unexpected ${source} answer`, status, JSON.stringify(body));
  return new HttpError(502, 'internal', 'the database request failed');
}

/** Maps a PostgREST error answer to the API's error. */
export const mapPostgrestError = (status: number, body: PostgrestError | undefined): HttpError =>
  mapSqlError(status, body);

export class Postgrest {
  constructor(private readonly config: Pick<SyncConfig, 'postgrestUrl' | 'anonKey'>) {}

  private headers(authorization: string, extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { authorization, ...extra };
    if (this.config.anonKey) headers.apikey = this.config.anonKey;
    return headers;
  }

  /** Sends a request; returns the response body text, or throws the mapped error. */
  async request(authorization: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}):
    Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${this.config.postgrestUrl}${path}`, {
        method: init.method ?? 'GET',
        headers: this.headers(authorization, init.body !== undefined
          ? { 'content-type': 'application/json', ...init.headers }
          : init.headers),
        body: init.body,
      });
    } catch (error) {
      console.error('sync: PostgREST unreachable', error);
      throw new HttpError(502, 'internal', 'the database is not reachable');
    }
    const text = await response.text();
    if (!response.ok) {
      let body: PostgrestError | undefined;
      try {
        body = JSON.parse(text) as PostgrestError;
      } catch { /* not JSON */ }
      throw mapPostgrestError(response.status, body);
    }
    return text;
  }

  /** Calls `/rpc/name` with named arguments; returns the parsed answer (null for void). */
  async rpc<T>(authorization: string, name: string, args: Record<string, unknown>): Promise<T> {
    const text = await this.request(authorization, `/rpc/${name}`, { method: 'POST', body: JSON.stringify(args) });
    return (text === '' ? null : JSON.parse(text)) as T;
  }
}

/** SYNC_DB_TRANSPORT=rest: PostgREST with the caller's token (it verifies the JWT itself). */
export class RestDb implements SyncDb {
  private readonly postgrest: Postgrest;
  constructor(private readonly config: Pick<SyncConfig, 'postgrestUrl' | 'anonKey' | 'postgrestMaxRows'>) {
    this.postgrest = new Postgrest(config);
  }

  authenticate(authorization: string | null): Promise<Caller> {
    return Promise.resolve(requireUser(authorization));
  }

  rows<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T[]> {
    return this.postgrest.rpc<T[]>(caller.authorization, fn, args);
  }

  value<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T> {
    return this.postgrest.rpc<T>(caller.authorization, fn, args);
  }

  async pull(caller: Caller, input: PullRequest): Promise<string> {
    const maxRows = this.config.postgrestMaxRows;
    const text = await this.postgrest.request(caller.authorization, pullPath(input, maxRows));
    return usesTableRead(input, maxRows) ? tablePullOut(text, input) : pullOut(text, input.afterSequence);
  }
}
