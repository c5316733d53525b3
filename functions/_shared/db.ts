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
 * which we translate to the API's camelCase names (names.ts).
 */
import { checkedPageStream, type PullRequest, pullRpc } from './pull.ts';
import type { Caller } from './auth.ts';
import type { SyncConfig } from './config.ts';
import { HttpError } from './errors.ts';
import { apiNames } from './names.ts';

/**
 * What the routes need from the database; `RestDb` (below, PostgREST) and `DirectDb` (db-direct.ts,
 * a pooled postgres.js connection) implement it, routes.ts picks one at start (SYNC_DB_TRANSPORT).
 * Both run the same SQL functions as role `authenticated` with the caller's claims, so RLS and the
 * functions' `auth.uid()` checks decide in either case, and both answer the same JSON.
 */
export interface SyncDb {
  /** Calls a set-returning SQL function `public.<fn>` with named arguments: its rows. */
  rows<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T[]>;
  /** Calls a scalar SQL function: its (JSON) value, null for void. */
  value<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T>;
  /** POST /pull: the API page `{ logs, hasMore, nextSequence, lastSequence }` as JSON text, or as
   *  a stream of its UTF-8 bytes (RestDb: PostgREST's body passed on, pull.ts checkedPageStream). */
  pull(caller: Caller, input: PullRequest): Promise<string | ReadableStream<Uint8Array>>;
}


/** A database error as both transports see it: PostgREST's JSON body, or postgres.js' PostgresError
 *  (whose `detail` and `hint` are PostgREST's `details` and `hint`). */
export interface SqlError {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

/**
 * The error table (docs/http-api.md, "Errors"): SQLSTATE -> status and API code. The PTxyz codes
 * are raised by our own SQL, whose messages and `detail` (the field path) we write ourselves, so
 * those reach the client (field names in camelCase). Every other row answers a fixed message:
 * PostgreSQL's own text never reaches a client. `hint` distinguishes the 409s a client acts on.
 */
const PT_CODES: Record<string, HttpError['code']> = {
  PT400: 'bad_request', PT401: 'unauthorized', PT403: 'forbidden', PT404: 'not_found', PT409: 'conflict',
  PT413: 'payload_too_large',
};
const CONFLICT_HINTS: Record<string, HttpError['code']> = {
  vault_deleted: 'vault_deleted', cursor_ahead: 'cursor_ahead',
  // shared vaults (issue 18, docs/sharing.md)
  stale_key_generation: 'stale_key_generation', generation_changed: 'generation_changed', members_changed: 'members_changed',
  invitation_closed: 'invitation_closed', invitation_expired: 'invitation_expired', already_member: 'already_member',
  identity_exists: 'identity_exists', identity_required: 'identity_required',
  // issue 26: delete_vault while the vault's files are still in Storage
  vault_files_remain: 'vault_files_remain',
  chain_changed: 'chain_changed', // the membership chain (issue 24)
};
/** SQLSTATEs (exact, or a class as its two first characters) with a fixed answer. */
const FIXED: Array<[RegExp, number, HttpError['code'], string]> = [
  // PostgREST's JWT errors (PGRST303: expired; the others: bad signature, malformed), or any 401
  // PostgREST answers itself. The function verifies first, so these are rare (a token expiring in between).
  [/^PGRST303$/, 401, 'token_expired', 'the access token has expired: refresh the session and retry'],
  [/^PGRST30\d$/, 401, 'invalid_jwt', 'invalid JWT'],
  // insufficient_privilege: the database refused a privilege.
  [/^42501$/, 403, 'forbidden', 'not allowed'],
  // Data exceptions (class 22): a value the validation let through but PostgreSQL refuses.
  [/^22/, 400, 'bad_request', 'a value is out of range or malformed'],
  // Transient: statement timeout, serialization failure, deadlock, lock not available, out of
  // resources, shutting down or connection trouble: repeating the request may succeed.
  [/^(57014|40001|40P01|55P03|53|57P0[1-3]|08)/, 503, 'unavailable', 'the database is busy; retry later'],
];

/**
 * Maps a database error to the API's error through the table above; shared by both transports
 * (db-direct.ts passes status 0). Anything not in the table is 500 `internal`, logged here with its
 * details and answered without them. (502 is only for PostgREST not answering at all: Postgrest#request.)
 */
export function mapSqlError(status: number, body: SqlError | undefined, source = 'PostgREST'): HttpError {
  const code = body?.code ?? '';
  const apiCode = PT_CODES[code];
  if (code === 'PGRST301' && /expired/i.test(body?.message ?? '')) {
    return new HttpError(401, 'token_expired', 'the access token has expired: refresh the session and retry');
  }
  if (apiCode) {
    const details = typeof body?.details === 'string' && body.details !== '' ? apiNames(body.details) : undefined;
    const hinted = code === 'PT409' && typeof body?.hint === 'string' ? CONFLICT_HINTS[body.hint]
      // issue 19: the token's Auth session ended (signed out, or its device revoked)
      : code === 'PT401' && body?.hint === 'session_revoked' ? 'session_revoked'
      // issue 26: the vault's byte quota
      : code === 'PT413' && body?.hint === 'quota_exceeded' ? 'quota_exceeded' : undefined;
    return new HttpError(Number(code.slice(2)), hinted ?? apiCode, apiNames(body?.message ?? 'request failed'), details);
  }
  for (const [pattern, fixedStatus, fixedCode, message] of FIXED) {
    if (pattern.test(code)) return new HttpError(fixedStatus, fixedCode, message);
  }
  if (status === 401) return new HttpError(401, 'unauthorized', 'invalid or expired JWT');
  console.error(`sync: unexpected ${source} answer`, status, JSON.stringify(body));
  return new HttpError(500, 'internal', 'internal server error');
}

/** Maps a PostgREST error answer to the API's error. */
export const mapPostgrestError = (status: number, body: SqlError | undefined): HttpError =>
  mapSqlError(status, body);

interface RequestOptions { method?: string; body?: string; headers?: Record<string, string> }

export class Postgrest {
  constructor(private readonly config: Pick<SyncConfig, 'postgrestUrl' | 'anonKey'>) {}

  private headers(authorization: string, extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { authorization, ...extra };
    if (this.config.anonKey) headers.apikey = this.config.anonKey;
    return headers;
  }

  /** Sends a request; returns the response body text, or throws the mapped error. */
  async request(authorization: string, path: string, init: RequestOptions = {}): Promise<string> {
    return await (await this.send(authorization, path, init)).text();
  }

  /** Sends a request; returns the response of a 2xx (its body unread), or throws the mapped error. */
  async send(authorization: string, path: string, init: RequestOptions = {}): Promise<Response> {
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
      throw new HttpError(502, 'unavailable', 'the database is not reachable');
    }
    if (!response.ok) {
      const text = await response.text();
      let body: SqlError | undefined;
      try {
        body = JSON.parse(text) as SqlError;
      } catch { /* not JSON */ }
      throw mapPostgrestError(response.status, body);
    }
    return response;
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
  constructor(config: Pick<SyncConfig, 'postgrestUrl' | 'anonKey'>) {
    this.postgrest = new Postgrest(config);
  }

  rows<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T[]> {
    return this.postgrest.rpc<T[]>(caller.authorization, fn, args);
  }

  value<T>(caller: Caller, fn: string, args: Record<string, unknown>): Promise<T> {
    return this.postgrest.rpc<T>(caller.authorization, fn, args);
  }

  async pull(caller: Caller, input: PullRequest): Promise<ReadableStream<Uint8Array>> {
    const { path, args, headers } = pullRpc(input);
    const response = await this.postgrest.send(caller.authorization, path, { method: 'POST', body: JSON.stringify(args), headers });
    if (!response.body) throw new HttpError(500, 'internal', 'unexpected database answer');
    return checkedPageStream(response.body);
  }
}
