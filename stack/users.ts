/**
 * Users for scripts and tests of the embedded stack (`npm run user`, tests/support): the same code
 * the Auth service runs for a sign-up and a sign-in (stack/auth/users.ts, stack/auth/sessions.ts),
 * so the user has GoTrue's rows (auth.users, auth.identities) and its token names a real
 * auth.sessions row. `accessTokenFor` mints tokens outside any session, for attack tests
 * (expired, forged).
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import type { AuthSettings } from './config.ts';
import { badRequest } from './auth/errors.ts';
import { verifyPassword } from './auth/password.ts';
import { issueSession } from './auth/sessions.ts';
import { signAccessToken } from './auth/tokens.ts';
import type { SigningJwk } from './jwt.ts';
import { createUser, findUserByEmail } from './auth/users.ts';

export interface StackUser {
  id: string;
  email: string;
  access_token: string;
  refresh_token: string;
}

export interface TokenOptions {
  jwtSecret: string;
  /** With signing keys, tokens are signed by the first (as the stack's Auth does). */
  signingKeys?: readonly SigningJwk[];
  apiUrl: string;
  expiresInSeconds: number;
  /** For tests of expired tokens: the moment the token was issued. */
  issuedAt?: number;
}

/** A token with GoTrue's claims for this user, signed with `jwtSecret`, naming a session that does not exist. */
export function accessTokenFor(user: { id: string; email: string }, options: TokenOptions): string {
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
  return signAccessToken({
    id: user.id, aud: 'authenticated', role: 'authenticated', email: user.email, phone: '',
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: { email: user.email, email_verified: true, phone_verified: false, sub: user.id },
    is_anonymous: false,
  }, {
    jwtSecret: options.jwtSecret, signingKeys: options.signingKeys, issuer: `${options.apiUrl}/auth/v1`,
    expiresInSeconds: options.expiresInSeconds, sessionId: randomUUID(), amr: [{ method: 'password', timestamp: iat }], issuedAt: iat,
  }).token;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Creates the user (confirmed, as an email sign-up without confirmations; with `password` if given),
 * or finds it by email, and signs it in: a new session with fresh tokens. With a password, an
 * existing user must have that password.
 */
export async function ensureUser(dbUrl: string, email: string, options: TokenOptions & { password?: string;
  settings?: Pick<AuthSettings, 'refreshTokenRotation' | 'refreshTokenReuseIntervalSeconds'> }): Promise<StackUser> {
  const normalized = email.trim().toLowerCase();
  if (!EMAIL.test(normalized) || normalized.length > 255) throw new Error(`not an email address: "${email}"`);
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    let user = await findUserByEmail(sql, normalized);
    if (!user) {
      user = await createUser(sql, { email: normalized, password: options.password, confirmed: true })
        ?? await findUserByEmail(sql, normalized); // created concurrently by someone else
    } else if (options.password !== undefined && !await verifyPassword(options.password, user.encrypted_password)) {
      throw badRequest('invalid_credentials', 'Invalid login credentials');
    }
    const session = await issueSession(sql, user!.id, 'password', { userAgent: 'npm run user' }, {
      jwtSecret: options.jwtSecret, signingKeys: options.signingKeys, issuer: `${options.apiUrl}/auth/v1`,
      jwtExpirySeconds: options.expiresInSeconds,
      refreshTokenRotation: options.settings?.refreshTokenRotation ?? true,
      refreshTokenReuseIntervalSeconds: options.settings?.refreshTokenReuseIntervalSeconds ?? 10,
    });
    return { id: user!.id, email: normalized, access_token: session.access_token, refresh_token: session.refresh_token };
  } finally {
    await sql.end({ timeout: 2 });
  }
}
