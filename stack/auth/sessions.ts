/**
 * Sessions as GoTrue keeps them: one auth.sessions row per sign-in (aal1, the client's user agent
 * and IP, the refresh-token key and counter of tokens.ts), the sign-in method in auth.mfa_amr_claims
 * (it becomes the `amr` claim), and `last_sign_in_at` on the user.
 *
 * Refresh follows GoTrue's algorithm-2 rules (internal/tokens/service.go): the token's counter
 * equal to the session's → the counter advances and a new token is issued; one behind (the client
 * missed the last answer) or any older token while the session was refreshed less than
 * `refresh_token_reuse_interval` seconds ago (concurrent refreshes) → the current token is issued
 * again; older still → with rotation the session is deleted (every token of it, refresh and
 * access, stops working at GoTrue) and the answer is `refresh_token_already_used`. The session
 * row is locked for the whole decision, so concurrent refreshes serialise.
 */
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import type { SigningJwk } from '../jwt.ts';
import { AuthError, badRequest, OAuthError, validationFailed } from './errors.ts';
import { encodeRefreshToken, newRefreshTokenKey, parseRefreshToken, signAccessToken } from './tokens.ts';
import { findUserById, isBanned, userJson, type UserRow } from './users.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

export interface TokenSettings {
  jwtSecret: string;
  signingKeys?: readonly SigningJwk[];
  issuer: string;
  jwtExpirySeconds: number;
  refreshTokenRotation: boolean;
  refreshTokenReuseIntervalSeconds: number;
}

export interface ClientInfo {
  userAgent?: string;
  ip?: string;
}

/** GoTrue's AccessTokenResponse. */
export interface SessionResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: ReturnType<typeof userJson>;
}

interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  refreshed_at: Date | null;
  refresh_token_hmac_key: string | null;
  refresh_token_counter: string | null;
}

async function amrOf(sql: Sql, sessionId: string) {
  const rows = await sql<{ method: string; timestamp: number }[]>`
    select authentication_method as method, extract(epoch from updated_at)::bigint::int as timestamp
    from auth.mfa_amr_claims where session_id = ${sessionId} order by updated_at desc`;
  return rows.map(({ method, timestamp }) => ({ method, timestamp }));
}

async function respond(sql: Sql, user: UserRow, sessionId: string, refreshToken: string,
  settings: TokenSettings): Promise<SessionResponse> {
  const { token, expiresAt } = signAccessToken({
    id: user.id, aud: user.aud ?? 'authenticated', role: user.role ?? 'authenticated', email: user.email ?? '',
    phone: user.phone ?? '', app_metadata: user.raw_app_meta_data ?? {}, user_metadata: user.raw_user_meta_data ?? {},
    is_anonymous: user.is_anonymous,
  }, {
    jwtSecret: settings.jwtSecret, signingKeys: settings.signingKeys, issuer: settings.issuer, expiresInSeconds: settings.jwtExpirySeconds,
    sessionId, amr: await amrOf(sql, sessionId),
  });
  return {
    access_token: token,
    token_type: 'bearer',
    expires_in: expiresAt - Math.floor(Date.now() / 1000),
    expires_at: expiresAt,
    refresh_token: refreshToken,
    user: userJson(user),
  };
}

/** GoTrue's IssueRefreshToken (algorithm 2): a new session for the user, signed in by `method`. */
export async function issueSession(sql: postgres.Sql, userId: string, method: string, client: ClientInfo,
  settings: TokenSettings): Promise<SessionResponse> {
  return sql.begin(async (tx) => {
    const sessionId = randomUUID();
    const key = newRefreshTokenKey();
    await tx`
      insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip,
                                 refresh_token_hmac_key, refresh_token_counter)
      values (${sessionId}, ${userId}, now(), now(), 'aal1', ${client.userAgent ?? null}, ${client.ip ?? null}::inet, ${key}, 0)`;
    await tx`update auth.users set last_sign_in_at = now() where id = ${userId}`;
    await tx`
      insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
      values (${randomUUID()}, ${sessionId}, now(), now(), ${method})
      on conflict (session_id, authentication_method) do update set updated_at = excluded.updated_at`;
    const user = (await findUserById(tx, userId))!;
    return respond(tx, user, sessionId, encodeRefreshToken(sessionId, 0n, key), settings);
  });
}

const notFound = () => badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');

/** The refresh_token grant. */
export async function refreshSession(sql: postgres.Sql, refreshToken: unknown, client: ClientInfo,
  settings: TokenSettings): Promise<SessionResponse> {
  if (typeof refreshToken !== 'string' || refreshToken === '') {
    throw new OAuthError('invalid_request', 'refresh_token required');
  }
  // GoTrue's Validate: 12 lowercase alphanumerics are a token of its first algorithm (never issued
  // here, so never found); anything else must parse as an algorithm-2 token.
  if (refreshToken.length < 12) throw validationFailed('Refresh token is not valid');
  if (refreshToken.length === 12) {
    if (!/^[a-z0-9]{12}$/.test(refreshToken)) throw validationFailed('Refresh token is not valid');
    throw notFound();
  }
  const parsed = parseRefreshToken(refreshToken);
  if (!parsed) throw validationFailed('Refresh token is not valid');
  const startedAt = Date.now();
  // A detected reuse deletes the session and still fails: the transaction returns the error so
  // that the delete commits.
  const outcome = await sql.begin(async (tx): Promise<SessionResponse | AuthError> => {
    const [session] = await tx<SessionRow[]>`
      select id, user_id, created_at, refreshed_at at time zone 'utc' as refreshed_at, refresh_token_hmac_key,
             refresh_token_counter::text
      from auth.sessions where id = ${parsed.sessionId} for update`;
    if (!session?.refresh_token_hmac_key || session.refresh_token_counter === null
      || !parsed.isSignedWith(session.refresh_token_hmac_key)) throw notFound();
    const user = await findUserById(tx, session.user_id);
    if (!user) throw notFound();
    if (isBanned(user)) throw badRequest('user_banned', 'Invalid Refresh Token: User Banned');

    let counter = BigInt(session.refresh_token_counter);
    const behind = counter - parsed.counter;
    if (behind < 0n) throw validationFailed('Invalid Refresh Token: Not Issued By This Server');
    if (behind === 0n) {
      counter += 1n;
    } else {
      // `refreshed_at` is a timestamp without time zone holding UTC, as GoTrue writes it (read as UTC above).
      const lastRefreshed = session.refreshed_at ?? session.created_at;
      const concurrent = Math.abs(startedAt - lastRefreshed.getTime()) < settings.refreshTokenReuseIntervalSeconds * 1000;
      if (behind !== 1n && !concurrent) {
        if (settings.refreshTokenRotation) await tx`delete from auth.sessions where id = ${session.id}`;
        return badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used');
      }
      // An allowed reuse re-issues the current token and leaves the counter where it is.
    }
    await tx`
      update auth.sessions set refresh_token_counter = ${counter.toString()}::bigint,
        refreshed_at = (now() at time zone 'utc'), updated_at = now(),
        user_agent = ${client.userAgent ?? null}, ip = ${client.ip ?? null}::inet
      where id = ${session.id}`;
    return respond(tx, user, session.id, encodeRefreshToken(session.id, counter, session.refresh_token_hmac_key), settings);
  });
  if (outcome instanceof AuthError) throw outcome;
  return outcome;
}

export async function findSession(sql: Sql, id: string): Promise<{ id: string; user_id: string } | undefined> {
  const [row] = await sql<{ id: string; user_id: string }[]>`select id, user_id from auth.sessions where id = ${id}`;
  return row;
}

/** GoTrue's logout scopes: `global` deletes every session of the user, `local` this one, `others` the rest. */
export async function logout(sql: Sql, userId: string, sessionId: string | undefined, scope: 'global' | 'local' | 'others') {
  if (sessionId && scope === 'local') await sql`delete from auth.sessions where id = ${sessionId}`;
  else if (sessionId && scope === 'others') await sql`delete from auth.sessions where user_id = ${userId} and id <> ${sessionId}`;
  else await sql`delete from auth.sessions where user_id = ${userId}`;
}
