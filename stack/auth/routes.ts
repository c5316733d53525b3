/**
 * The HTTP routes of the embedded Auth service, GoTrue's subset that supabase-js' auth client uses
 * for email and password (paths relative to /auth/v1):
 *   GET  /health, /settings
 *   POST /signup                                  { email, password, data? }
 *   POST /token?grant_type=password               { email, password }
 *   POST /token?grant_type=refresh_token          { refresh_token }
 *   GET  /user, PUT /user                         { password?, data? }       (user's access token)
 *   POST /logout?scope=global|local|others        (user's access token)
 *   GET|POST /admin/users, GET|PUT|DELETE /admin/users/ID   (service-role token; admin-routes.ts)
 * Bodies are JSON (or form-encoded for /token), at most 1 MiB (request.ts). Errors: errors.ts. A Hono
 * app: an unknown path is 404 `not_found`.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { JwtVerifier, PublicJwk } from '../jwt.ts';
import { adminUserRoutes } from './admin-routes.ts';
import { badRequest, errorResponse, forbidden, notFound, unprocessable, validationFailed } from './errors.ts';
import { checkPasswordStrength, verifyPassword } from './password.ts';
import type { RateLimiter } from './rate-limit.ts';
import {
  bearerClaims, type AuthEnv, type Call, objectField, readBody, respond, stringField, UUID, validEmail,
} from './request.ts';
import { findSession, issueSession, logout, refreshSession, type ClientInfo, type TokenSettings } from './sessions.ts';
import { createUser, findUserByEmail, findUserById, isBanned, updateUser, userJson } from './users.ts';
import type postgres from 'postgres';

export interface AuthContext {
  sql: postgres.Sql;
  tokens: TokenSettings;
  /** Verifies bearer tokens against the stack's key set (HS256 secret, or the signing keys' public parts). */
  verifier: JwtVerifier;
  /** GET /.well-known/jwks.json: the public signing keys; `{"keys":[]}` with only the symmetric secret, as GoTrue. */
  jwks: { keys: PublicJwk[] };
  minimumPasswordLength: number;
  enableSignup: boolean;
  enableConfirmations: boolean;
  signInLimiter: RateLimiter;
  refreshLimiter: RateLimiter;
  log: (line: string) => void;
}

const clientOf = (c: Call): ClientInfo => ({
  userAgent: c.req.header('user-agent') || undefined,
  ip: c.env.incoming.socket.remoteAddress?.replace(/^::ffff:/, '') || undefined,
});
const ipOf = (c: Call) => clientOf(c).ip ?? 'unknown';

/** GoTrue's requireAuthentication: a valid user token whose user and session still exist. */
async function authenticate(c: Call, ctx: AuthContext) {
  const claims = bearerClaims(c, ctx);
  if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
  if (!UUID.test(claims.sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID');
  const user = await findUserById(ctx.sql, claims.sub);
  if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
  const sessionId = typeof claims.session_id === 'string' && claims.session_id !== '00000000-0000-0000-0000-000000000000'
    ? claims.session_id : undefined;
  if (sessionId !== undefined) {
    if (!UUID.test(sessionId)) throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID');
    if (!await findSession(ctx.sql, sessionId)) throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
  }
  if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
  return { user, sessionId };
}

async function signUp(c: Call, ctx: AuthContext) {
  ctx.signInLimiter.take(ipOf(c));
  if (!ctx.enableSignup) throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
  const body = await readBody(c);
  const password = stringField(body, 'password');
  // GoTrue: neither email nor phone is an anonymous sign-in, refused while those are off.
  if (!stringField(body, 'email') && !stringField(body, 'phone')) {
    throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
  }
  if (stringField(body, 'phone')) throw badRequest('phone_provider_disabled', 'Phone signups are disabled');
  if (!password) throw validationFailed('Signup requires a valid password');
  checkPasswordStrength(password, ctx.minimumPasswordLength);
  const email = validEmail(stringField(body, 'email'));
  const userMetadata = objectField(body, 'data');
  const user = await createUser(ctx.sql, {
    email, password, userMetadata, confirmed: !ctx.enableConfirmations, confirmationSent: ctx.enableConfirmations,
  });
  if (!user) {
    if (!ctx.enableConfirmations) throw unprocessable('user_already_exists', 'User already registered');
    // GoTrue's signup.go with confirmations on: an unconfirmed user is answered as it is (the mail
    // would be sent again); a confirmed one by sanitizeUser, a made-up user that looks like a fresh
    // sign-up, so the answer does not tell whether the email has an account.
    const existing = await findUserByEmail(ctx.sql, email);
    if (existing && !existing.email_confirmed_at) return userJson(existing);
    return obfuscatedUser(email, userMetadata ?? {});
  }
  // With confirmations on, GoTrue answers the user alone; the session comes after the mail's link.
  if (ctx.enableConfirmations) return userJson(user);
  return issueSession(ctx.sql, user.id, 'password', clientOf(c), ctx.tokens);
}

/** GoTrue's sanitizeUser: a new random id, timestamps of now, no identities, the caller's own data. */
function obfuscatedUser(email: string, data: Record<string, unknown>) {
  const now = new Date();
  return userJson({
    id: randomUUID(), aud: 'authenticated', role: 'authenticated', email, encrypted_password: null,
    email_confirmed_at: null, invited_at: null, confirmation_sent_at: now, confirmed_at: null, phone: '',
    phone_confirmed_at: null, last_sign_in_at: null, raw_app_meta_data: { provider: 'email', providers: ['email'] },
    raw_user_meta_data: data, created_at: now, updated_at: now, banned_until: null, deleted_at: null,
    is_anonymous: false, identities: [],
  });
}

async function passwordGrant(c: Call, ctx: AuthContext) {
  const body = await readBody(c);
  const email = stringField(body, 'email');
  const password = stringField(body, 'password') ?? '';
  if (email && stringField(body, 'phone')) throw validationFailed('Only an email address or phone number should be provided on login.');
  if (!email) {
    if (stringField(body, 'phone')) throw unprocessable('phone_provider_disabled', 'Phone logins are disabled');
    throw validationFailed('missing email or phone');
  }
  const user = await findUserByEmail(ctx.sql, email);
  // The same answer, after the same bcrypt work, for an unknown email and a wrong password.
  const valid = await verifyPassword(password, user?.encrypted_password);
  if (!user || !valid) throw badRequest('invalid_credentials', 'Invalid login credentials');
  if (isBanned(user)) throw badRequest('user_banned', 'User is banned');
  if (!user.email_confirmed_at) throw badRequest('email_not_confirmed', 'Email not confirmed');
  return issueSession(ctx.sql, user.id, 'password', clientOf(c), ctx.tokens);
}

async function token(c: Call, ctx: AuthContext) {
  const grantType = c.req.query('grant_type');
  if (grantType === 'password') {
    ctx.signInLimiter.take(ipOf(c));
    return passwordGrant(c, ctx);
  }
  if (grantType === 'refresh_token') {
    ctx.refreshLimiter.take(ipOf(c));
    const body = await readBody(c);
    return refreshSession(ctx.sql, body.refresh_token, clientOf(c), ctx.tokens);
  }
  throw badRequest('invalid_credentials', 'unsupported_grant_type');
}

async function updateOwnUser(c: Call, ctx: AuthContext) {
  const { user, sessionId } = await authenticate(c, ctx);
  const body = await readBody(c);
  const password = stringField(body, 'password');
  const data = objectField(body, 'data');
  const email = stringField(body, 'email');
  if (body.app_metadata !== undefined) throw forbidden('not_admin', 'Updating app_metadata requires admin privileges');
  if ((email && email.toLowerCase() !== user.email) || stringField(body, 'phone')) {
    // A change of email needs GoTrue's confirmation mails, which the embedded stack cannot send.
    throw unprocessable('email_provider_disabled', 'Changing email or phone is not available on the embedded stack');
  }
  if (password !== undefined) {
    checkPasswordStrength(password, ctx.minimumPasswordLength);
    if (await verifyPassword(password, user.encrypted_password)) {
      throw unprocessable('same_password', 'New password should be different from the old password.');
    }
  }
  await ctx.sql.begin(async (tx) => {
    await updateUser(tx, user, { password, userMetadata: data });
    // GoTrue's UpdatePassword signs out every other session of the user.
    if (password !== undefined) await logout(tx, user.id, sessionId, sessionId ? 'others' : 'global');
  });
  return userJson((await findUserById(ctx.sql, user.id))!);
}

async function signOut(c: Call, ctx: AuthContext) {
  const scope = c.req.query('scope') || 'global';
  if (scope !== 'global' && scope !== 'local' && scope !== 'others') {
    throw validationFailed(`Unsupported logout scope "${scope}"`);
  }
  const { user, sessionId } = await authenticate(c, ctx);
  await logout(ctx.sql, user.id, sessionId, scope);
}

const SETTINGS_PROVIDERS = ['anonymous_users', 'apple', 'azure', 'bitbucket', 'discord', 'facebook', 'snapchat',
  'figma', 'fly', 'github', 'gitlab', 'google', 'keycloak', 'kakao', 'linkedin', 'linkedin_oidc', 'notion',
  'spotify', 'slack', 'slack_oidc', 'workos', 'twitch', 'twitter', 'email', 'phone', 'zoom'];

function settings(ctx: AuthContext) {
  return {
    external: Object.fromEntries(SETTINGS_PROVIDERS.map((name) => [name, name === 'email'])),
    disable_signup: !ctx.enableSignup,
    mailer_autoconfirm: !ctx.enableConfirmations,
    phone_autoconfirm: false,
    sms_provider: '',
    saml_enabled: false,
    saml_private_key_next_configured: false,
    passkeys_enabled: false,
  };
}

/** The Auth service's routes; paths are relative to /auth/v1. */
export function createAuthApp(ctx: AuthContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>({ strict: false });
  const ok = (handler: (c: Call, ctx: AuthContext) => unknown) => async (c: Call) => respond(c, 200, await handler(c, ctx));

  app.get('/health', (c) => respond(c, 200,
    { version: 'haex-sync-embedded', name: 'GoTrue', description: 'GoTrue is a user registration and authentication API' }));
  app.get('/.well-known/jwks.json', (c) => respond(c, 200, ctx.jwks));
  app.get('/settings', (c) => respond(c, 200, settings(ctx)));
  app.post('/signup', ok(signUp));
  app.post('/token', ok(token));
  app.get('/user', ok(async (c) => userJson((await authenticate(c, ctx)).user)));
  app.put('/user', ok(updateOwnUser));
  app.post('/logout', async (c) => {
    await signOut(c, ctx);
    return respond(c, 204, undefined);
  });
  adminUserRoutes(app, ctx);

  app.notFound((c) => errorResponse(c.req.raw,
    notFound('not_found', `No Auth route ${c.req.method} ${c.req.path} on the embedded stack`), ctx.log));
  app.onError((error, c) => {
    // Unread request bodies would hold the connection.
    c.env.incoming.resume();
    return errorResponse(c.req.raw, error, ctx.log);
  });
  return app;
}
