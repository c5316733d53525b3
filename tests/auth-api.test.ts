/**
 * The embedded Auth service through unmodified supabase-js (the pinned version and the newest 2.x):
 * every call of issue 11 and every error code, GoTrue's wire formats (sessions, users, errors in
 * both shapes, claims), GoTrue's rows in auth.*, and the admin API with the service-role key.
 */
import bcrypt from 'bcryptjs';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { adminClient, authClient, authHttp, newEmail, newPassword, SUPABASE_JS_VERSIONS } from './support/auth.ts';
import { adminSql, rpc, stack, verifyToken } from './support/stack.ts';

const GOTRUE_CLAIMS = ['aal', 'amr', 'app_metadata', 'aud', 'email', 'exp', 'iat', 'is_anonymous', 'iss', 'phone',
  'role', 'session_id', 'sub', 'user_metadata'];

/** Signs up a fresh user through supabase-js and returns the client (holding the session) and credentials. */
async function signedUp(label = 'user', create = SUPABASE_JS_VERSIONS[0][1]) {
  const email = newEmail(label);
  const password = newPassword();
  const client = authClient({ create });
  const { data, error } = await client.auth.signUp({ email, password });
  expect(error).toBeNull();
  return { client, email, password, user: data.user!, session: data.session! };
}

describe.each(SUPABASE_JS_VERSIONS)('supabase-js %s: sign-up, sign-in, refresh, user, sign-out', (_name, create) => {
  it('runs the whole flow with sessions GoTrue would give', async () => {
    const email = newEmail('flow');
    const password = newPassword();
    const device = authClient({ create });

    const up = await device.auth.signUp({ email, password, options: { data: { display_name: 'Ada' } } });
    expect(up.error).toBeNull();
    expect(up.data.session).toMatchObject({ token_type: 'bearer', expires_in: stack.JWT_EXPIRY });
    expect(up.data.user).toMatchObject({ email, user_metadata: { display_name: 'Ada', email, email_verified: true } });

    const other = authClient({ create });
    const signIn = await other.auth.signInWithPassword({ email, password });
    expect(signIn.error).toBeNull();
    expect(signIn.data.user!.id).toBe(up.data.user!.id);
    const signInClaims = verifyToken(signIn.data.session!.access_token)!;
    expect(signInClaims.session_id).not.toBe(verifyToken(up.data.session!.access_token)!.session_id);

    const got = await other.auth.getUser();
    expect(got.error).toBeNull();
    expect(got.data.user).toMatchObject({ id: up.data.user!.id, email });

    const refreshed = await other.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session!.refresh_token).not.toBe(signIn.data.session!.refresh_token);
    expect(verifyToken(refreshed.data.session!.access_token)!.session_id).toBe(signInClaims.session_id);

    const updated = await other.auth.updateUser({ data: { display_name: 'Grace', theme: 'dark' } });
    expect(updated.error).toBeNull();
    expect(updated.data.user!.user_metadata).toMatchObject({ display_name: 'Grace', theme: 'dark', email });

    const newPw = newPassword();
    expect((await other.auth.updateUser({ password: newPw })).error).toBeNull();
    // As at GoTrue, a new password ends every other session of the user (here: the sign-up's).
    expect((await device.auth.getUser()).error).toMatchObject({ name: 'AuthSessionMissingError' });
    const third = authClient({ create });
    expect((await third.auth.signInWithPassword({ email, password: newPw })).error).toBeNull();
    expect((await authClient({ create }).auth.signInWithPassword({ email, password })).error)
      .toMatchObject({ status: 400, code: 'invalid_credentials' });

    const accessToken = (await other.auth.getSession()).data.session!.access_token;
    expect((await other.auth.signOut({ scope: 'local' })).error).toBeNull();
    const after = await authHttp('/user', { token: accessToken });
    expect({ status: after.status, code: after.body.code }).toEqual({ status: 403, code: 'session_not_found' });
    // A local sign-out ends only its own session.
    expect((await third.auth.getUser()).error).toBeNull();
  });

  it('answers each error with GoTrue\'s status and code', async () => {
    const { email, password } = await signedUp('errors', create);
    const client = authClient({ create });
    expect((await client.auth.signUp({ email, password })).error).toMatchObject({ status: 422, code: 'user_already_exists' });
    const weak = (await client.auth.signUp({ email: newEmail(), password: '12345' })).error;
    expect(weak).toMatchObject({ status: 422, code: 'weak_password', reasons: ['length'] });
    expect(weak!.name).toBe('AuthWeakPasswordError');
    expect((await client.auth.signUp({ email: 'not an email', password })).error)
      .toMatchObject({ status: 400, code: 'validation_failed' });
    const wrong = (await client.auth.signInWithPassword({ email, password: `${password}x` })).error;
    const unknown = (await client.auth.signInWithPassword({ email: newEmail('nobody'), password })).error;
    expect(wrong).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' });
    expect({ status: unknown!.status, code: unknown!.code, message: unknown!.message })
      .toEqual({ status: wrong!.status, code: wrong!.code, message: wrong!.message });
  });
});

describe('wire format', () => {
  it('errors are { code, message } with the version header echoed, else GoTrue\'s { code, error_code, msg }', async () => {
    const body = { email: newEmail(), password: '123' };
    const current = await authHttp('/signup', { body });
    expect(current.status).toBe(422);
    expect(current.headers.get('x-supabase-api-version')).toBe('2024-01-01');
    expect(current.body).toEqual({ code: 'weak_password', message: 'Password should be at least 6 characters.', weak_password: { reasons: ['length'] } });
    const legacy = await authHttp('/signup', { body, apiVersion: null });
    expect(legacy.headers.get('x-supabase-api-version')).toBeNull();
    expect(legacy.body).toEqual({ code: 422, error_code: 'weak_password', msg: 'Password should be at least 6 characters.', weak_password: { reasons: ['length'] } });
    expect(legacy.headers.get('x-sb-error-code')).toBe('weak_password');
  });

  it('a session is { access_token, token_type, expires_in, expires_at, refresh_token, user } with exactly GoTrue\'s claims', async () => {
    const { email, password } = await signedUp('shape');
    const res = await authHttp('/token?grant_type=password', { body: { email, password } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_at', 'expires_in', 'refresh_token', 'token_type', 'user']);
    const claims = verifyToken(res.body.access_token)!;
    expect(Object.keys(claims).sort()).toEqual(GOTRUE_CLAIMS);
    expect(claims).toMatchObject({
      aud: 'authenticated', role: 'authenticated', sub: res.body.user.id, email, phone: '', aal: 'aal1', is_anonymous: false,
      iss: `${stack.API_URL}/auth/v1`, app_metadata: { provider: 'email', providers: ['email'] },
      amr: [{ method: 'password', timestamp: expect.any(Number) }],
    });
    expect(claims.exp).toBe(res.body.expires_at);
    expect((claims.exp as number) - (claims.iat as number)).toBe(stack.JWT_EXPIRY);
    const [session] = await adminSql()`select user_id, aal::text from auth.sessions where id = ${claims.session_id as string}`;
    expect(session).toEqual({ user_id: res.body.user.id, aal: 'aal1' });
    expect(Object.keys(res.body.user).sort()).toEqual(['app_metadata', 'aud', 'confirmed_at', 'created_at', 'email',
      'email_confirmed_at', 'id', 'identities', 'is_anonymous', 'last_sign_in_at', 'phone', 'role', 'updated_at', 'user_metadata']);
    expect(res.body.user.identities).toEqual([expect.objectContaining({
      id: res.body.user.id, user_id: res.body.user.id, provider: 'email', email,
      identity_data: { sub: res.body.user.id, email, email_verified: true, phone_verified: false },
    })]);
  });

  it('GET /settings and GET /health answer as GoTrue', async () => {
    const settings = await authClient().auth.getSession().then(() => authHttp('/settings'));
    expect(settings.status).toBe(200);
    expect(settings.body).toMatchObject({ disable_signup: false, mailer_autoconfirm: true, phone_autoconfirm: false });
    expect(settings.body.external).toMatchObject({ email: true, phone: false, github: false });
    const health = await authHttp('/health');
    expect(health.body).toMatchObject({ name: 'GoTrue', description: expect.any(String), version: expect.any(String) });
  });

  it('refuses unknown grant types, bad refresh tokens, bad scopes and missing tokens with GoTrue\'s codes', async () => {
    const { session } = await signedUp('codes');
    const codeOf = (r: { status: number; body: any }) => `${r.status} ${r.body.code}`;
    expect(codeOf(await authHttp('/token?grant_type=magic', { body: {} }))).toBe('400 invalid_credentials');
    expect(codeOf(await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: 'short' } }))).toBe('400 validation_failed');
    expect(codeOf(await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: 'abcdefghijkl' } }))).toBe('400 refresh_token_not_found');
    expect(codeOf(await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: randomBytes(40).toString('base64url') } })))
      .toBe('400 validation_failed');
    expect(codeOf(await authHttp('/logout?scope=everywhere', { method: 'POST', token: session.access_token }))).toBe('400 validation_failed');
    expect(codeOf(await authHttp('/user', { token: stack.ANON_KEY }))).toBe('403 bad_jwt');
    expect(codeOf(await authHttp('/signup', { body: { email: newEmail() } }))).toBe('400 validation_failed');
    expect(codeOf(await authHttp('/no-such-route'))).toBe('404 not_found');
    const badJson = await fetch(`${stack.API_URL}/auth/v1/signup`, {
      method: 'POST', headers: { apikey: stack.ANON_KEY, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' }, body: '{',
    });
    expect([badJson.status, (await badJson.json()).code]).toEqual([400, 'bad_json']);
  });

  it('PUT /user refuses the same password (same_password), a weak one (weak_password) and app_metadata (not_admin)', async () => {
    const { client, password, session } = await signedUp('update');
    expect((await client.auth.updateUser({ password })).error).toMatchObject({ status: 422, code: 'same_password' });
    expect((await client.auth.updateUser({ password: '123' })).error).toMatchObject({ status: 422, code: 'weak_password' });
    const res = await authHttp('/user', { method: 'PUT', token: session.access_token, body: { app_metadata: { role: 'admin' } } });
    expect(`${res.status} ${res.body.code}`).toBe('403 not_admin');
  });
});

describe('storage in GoTrue\'s tables', () => {
  it('writes auth.users with a bcrypt cost-10 hash, an email identity, a session with its refresh key, and an amr claim', async () => {
    const { user, password, session } = await signedUp('rows');
    const sql = adminSql();
    const [row] = await sql`select encrypted_password, aud, role, email_confirmed_at, confirmation_token, raw_app_meta_data
                            from auth.users where id = ${user.id}`;
    expect(row!.encrypted_password).toMatch(/^\$2a\$10\$[./A-Za-z0-9]{53}$/);
    expect(bcrypt.compareSync(password, row!.encrypted_password)).toBe(true);
    expect(row).toMatchObject({ aud: 'authenticated', role: 'authenticated', confirmation_token: '',
      raw_app_meta_data: { provider: 'email', providers: ['email'] } });
    const identities = await sql`select provider, provider_id, email from auth.identities where user_id = ${user.id}`;
    expect(identities).toEqual([{ provider: 'email', provider_id: user.id, email: user.email }]);
    const sessionId = verifyToken(session.access_token)!.session_id as string;
    const [stored] = await sql`select refresh_token_hmac_key, refresh_token_counter::int as counter from auth.sessions where id = ${sessionId}`;
    expect(stored).toEqual({ refresh_token_hmac_key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), counter: 0 });
    const claims = await sql`select authentication_method from auth.mfa_amr_claims where session_id = ${sessionId}`;
    expect(claims).toEqual([{ authentication_method: 'password' }]);
    const legacy = await sql`select count(*)::int as n from auth.refresh_tokens where session_id = ${sessionId}`;
    expect(legacy[0]!.n).toBe(0);
  });
});

describe('admin API (service-role key only)', () => {
  it('createUser, getUserById, listUsers, updateUserById and deleteUser', async () => {
    const admin = adminClient();
    const email = newEmail('admin');
    const password = newPassword();
    const created = await admin.auth.admin.createUser({
      email, password, email_confirm: true, user_metadata: { plan: 'free' }, app_metadata: { tier: 1 },
    });
    expect(created.error).toBeNull();
    const id = created.data.user!.id;
    expect(created.data.user).toMatchObject({ email, user_metadata: { plan: 'free' }, app_metadata: { provider: 'email', tier: 1 } });
    expect((await admin.auth.admin.createUser({ email, password })).error).toMatchObject({ status: 422, code: 'email_exists' });

    expect((await admin.auth.admin.getUserById(id)).data.user).toMatchObject({ id, email });
    expect((await admin.auth.admin.getUserById(crypto.randomUUID())).error).toMatchObject({ status: 404, code: 'user_not_found' });

    const listed = await admin.auth.admin.listUsers({ page: 1, perPage: 1000 });
    expect(listed.error).toBeNull();
    expect(listed.data.users.map((u) => u.id)).toContain(id);

    const device = authClient();
    expect((await device.auth.signInWithPassword({ email, password })).error).toBeNull();
    const newPw = newPassword();
    const updated = await admin.auth.admin.updateUserById(id, { password: newPw, user_metadata: { plan: 'pro' } });
    expect(updated.error).toBeNull();
    expect(updated.data.user!.user_metadata).toMatchObject({ plan: 'pro' });
    // A password set by the admin ends every session, as GoTrue does.
    expect((await device.auth.refreshSession()).error).toMatchObject({ code: 'refresh_token_not_found' });
    expect((await authClient().auth.signInWithPassword({ email, password: newPw })).error).toBeNull();

    expect((await admin.auth.admin.deleteUser(id)).error).toBeNull();
    expect((await admin.auth.admin.getUserById(id)).error).toMatchObject({ status: 404, code: 'user_not_found' });
    expect((await authClient().auth.signInWithPassword({ email, password: newPw })).error).toMatchObject({ code: 'invalid_credentials' });
  });

  it('deleting a user deletes their vaults, keys and logs, and their tokens stop working at Auth', async () => {
    const { user, session } = await signedUp('deleted');
    const vaultId = crypto.randomUUID();
    const b64 = (n: number) => randomBytes(n).toString('base64');
    expect((await rpc('create_vault', { vault_id: vaultId, encrypted_vault_key: b64(48), salt: b64(16), nonce: b64(12) }, session.access_token)).status).toBe(200);
    const push = await rpc('push_logs', { vault_id: vaultId, logs: [{ id: crypto.randomUUID(), encrypted_data: b64(32), nonce: b64(12), haex_timestamp: '1', device_id: 'd' }] }, session.access_token);
    expect(push.status).toBe(200);
    const sql = adminSql();
    const count = async () => (await sql`select
      (select count(*)::int from public.vaults where owner_id = ${user.id}) as vaults,
      (select count(*)::int from public.vault_keys where user_id = ${user.id}) as keys,
      (select count(*)::int from public.sync_logs where author_id = ${user.id}) as logs,
      (select count(*)::int from auth.sessions where user_id = ${user.id}) as sessions,
      (select count(*)::int from auth.identities where user_id = ${user.id}) as identities`)[0];
    expect(await count()).toEqual({ vaults: 1, keys: 1, logs: 1, sessions: 1, identities: 1 });
    expect((await adminClient().auth.admin.deleteUser(user.id)).error).toBeNull();
    expect(await count()).toEqual({ vaults: 0, keys: 0, logs: 0, sessions: 0, identities: 0 });
    const me = await authHttp('/user', { token: session.access_token });
    expect(`${me.status} ${me.body.code}`).toBe('403 user_not_found');
  });

  it('refuses the anon key and user tokens (403 not_admin) and a malformed id (404 validation_failed)', async () => {
    const { session } = await signedUp('not-admin');
    expect((await authClient().auth.admin.listUsers()).error).toMatchObject({ status: 403, code: 'not_admin' });
    const asUser = await authHttp('/admin/users', { token: session.access_token });
    expect(`${asUser.status} ${asUser.body.code}`).toBe('403 not_admin');
    const create = await authHttp('/admin/users', { token: session.access_token, body: { email: newEmail(), password: newPassword() } });
    expect(`${create.status} ${create.body.code}`).toBe('403 not_admin');
    const malformed = await authHttp('/admin/users/not-a-uuid', { token: stack.SERVICE_ROLE_KEY, apikey: stack.SERVICE_ROLE_KEY });
    expect(`${malformed.status} ${malformed.body.code}`).toBe('404 validation_failed');
  });
});

describe('npm run user', () => {
  const root = path.resolve(import.meta.dirname, '..');
  const user = (...args: string[]) => promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'),
    ['stack/cli/user.ts', ...args], { cwd: root, env: { ...process.env, HAEX_DATA_DIR: stack.DATA_DIR } });

  it('-- EMAIL --password P makes a user who signs in with supabase-js, and prints a live session', async () => {
    const email = newEmail('cli');
    const password = newPassword();
    const printed = JSON.parse((await user(email, '--password', password)).stdout);
    expect(Object.keys(printed).sort()).toEqual(['access_token', 'email', 'id', 'refresh_token']);
    const me = await authHttp('/user', { token: printed.access_token });
    expect([me.status, me.body.id]).toEqual([200, printed.id]);
    expect((await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: printed.refresh_token } })).status).toBe(200);
    const signIn = await authClient().auth.signInWithPassword({ email, password });
    expect(signIn.error).toBeNull();
    expect(signIn.data.user!.id).toBe(printed.id);
    const [row] = await adminSql()`select encrypted_password from auth.users where id = ${printed.id}`;
    expect(row!.encrypted_password).toMatch(/^\$2a\$10\$/);
    // Again with a wrong password: refused, as a sign-in would be.
    await expect(user(email, '--password', `${password}x`)).rejects.toMatchObject({ code: 1 });
    expect(JSON.parse((await user(email, '--password', password)).stdout).id).toBe(printed.id);
  });
});
