/**
 * Users for the embedded stack, standing in for Supabase Auth: a row in `auth.users` as GoTrue
 * writes it for a confirmed email sign-up (without a password: we never store one), and an access
 * token with exactly the claims GoTrue puts in one, signed with the stack's JWT secret.
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { signJwt } from './jwt.ts';

export interface StackUser {
  id: string;
  email: string;
  access_token: string;
}

export interface TokenOptions {
  jwtSecret: string;
  apiUrl: string;
  expiresInSeconds: number;
  /** For tests of expired tokens: the moment the token was issued. */
  issuedAt?: number;
}

export function accessTokenFor(user: { id: string; email: string }, options: TokenOptions): string {
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
  return signJwt({
    aud: 'authenticated',
    exp: iat + options.expiresInSeconds,
    iat,
    iss: `${options.apiUrl}/auth/v1`,
    sub: user.id,
    email: user.email,
    phone: '',
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: { email: user.email, email_verified: true, phone_verified: false, sub: user.id },
    role: 'authenticated',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: iat }],
    session_id: randomUUID(),
    is_anonymous: false,
  }, options.jwtSecret);
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Creates the user, or finds it by email, and returns a fresh access token for it. */
export async function ensureUser(dbUrl: string, email: string, options: TokenOptions): Promise<StackUser> {
  const normalized = email.trim().toLowerCase();
  if (!EMAIL.test(normalized) || normalized.length > 255) throw new Error(`not an email address: "${email}"`);
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const id = randomUUID();
    await sql`
      insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, last_sign_in_at,
                              raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
      values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${normalized},
              now(), now(), ${sql.json({ provider: 'email', providers: ['email'] })},
              ${sql.json({ email: normalized, email_verified: true, phone_verified: false, sub: id })}, now(), now())
      on conflict (email) where (is_sso_user = false) do nothing`;
    const [row] = await sql<{ id: string }[]>`select id from auth.users where email = ${normalized} and not is_sso_user`;
    const user = { id: row!.id, email: normalized };
    return { ...user, access_token: accessTokenFor(user, options) };
  } finally {
    await sql.end({ timeout: 2 });
  }
}
