/**
 * GoTrue's user administration, for a service-role (or supabase_admin) token (paths relative to /auth/v1):
 *   GET  /admin/users?page=&per_page=     -> { users, aud }, `x-total-count` and `link` headers
 *   POST /admin/users                     { email, password?, user_metadata?, app_metadata?, email_confirm?, ban_duration? }
 *   GET  /admin/users/ID
 *   PUT  /admin/users/ID                  { password?, user_metadata?, app_metadata?, email_confirm?, ban_duration? }
 *                                         (a new password ends every session of the user)
 *   DELETE /admin/users/ID                { should_soft_delete? } (the body may be empty)
 * Another method on /admin/users[/ID] is 405 `method_not_allowed` (after the ID is checked, as GoTrue).
 * Mounted by createAuthApp (routes.ts); errors: errors.ts.
 */
import type { Hono } from 'hono';
import { AuthError, forbidden, notFound, unprocessable, validationFailed } from './errors.ts';
import { bearerClaims, type AuthEnv, type Call, objectField, readBody, respond, stringField, UUID, validEmail } from './request.ts';
import type { AuthContext } from './routes.ts';
import { logout } from './sessions.ts';
import { createUser, deleteUser, findUserById, listUsers, updateUser, userJson, type UserRow } from './users.ts';

function requireAdmin(c: Call, ctx: AuthContext) {
  const claims = bearerClaims(c, ctx);
  if (claims.role !== 'service_role' && claims.role !== 'supabase_admin') throw forbidden('not_admin', 'User not allowed');
}

function positiveInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw validationFailed(`Bad Pagination Parameters: ${name} must be a positive integer`);
  return value;
}

function banUntil(raw: string | undefined): Date | null | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'none') return null;
  const match = /^(\d+(?:\.\d+)?)(h|m|s|ms)$/.exec(raw);
  if (!match) throw validationFailed(`invalid format for ban duration: ${raw}`);
  const ms = Number(match[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[match[2] as 'h' | 'm' | 's' | 'ms'];
  return new Date(Date.now() + ms);
}

async function listAdminUsers(c: Call, ctx: AuthContext) {
  const page = positiveInt(c.req.query('page'), 1, 'page');
  const perPage = Math.min(positiveInt(c.req.query('per_page'), 50, 'per_page'), 1000);
  const { users, total } = await listUsers(ctx.sql, page, perPage);
  const last = Math.max(1, Math.ceil(total / perPage));
  const link = (n: number, rel: string) => `</admin/users?page=${n}&per_page=${perPage}>; rel="${rel}"`;
  const links = [...(page < last ? [link(page + 1, 'next')] : []), link(last, 'last')];
  return respond(c, 200, { users: users.map(userJson), aud: 'authenticated' },
    { 'x-total-count': String(total), link: links.join(', ') });
}

async function createAdminUser(c: Call, ctx: AuthContext) {
  const body = await readBody(c);
  const email = validEmail(stringField(body, 'email'));
  if (stringField(body, 'phone')) throw unprocessable('phone_provider_disabled', 'Phone users are not available on the embedded stack');
  if (body.password_hash !== undefined) throw validationFailed('password_hash is not supported on the embedded stack');
  const user = await createUser(ctx.sql, {
    email,
    // GoTrue gives a user created without a password a random one nobody knows.
    password: stringField(body, 'password') || randomPassword(),
    userMetadata: objectField(body, 'user_metadata'), appMetadata: objectField(body, 'app_metadata'),
    confirmed: body.email_confirm === true, metadataFrom: 'admin',
  });
  if (!user) throw unprocessable('email_exists', 'A user with this email address has already been registered');
  const banned = banUntil(stringField(body, 'ban_duration'));
  if (banned !== undefined) await updateUser(ctx.sql, user, { bannedUntil: banned });
  return userJson((await findUserById(ctx.sql, user.id))!);
}

/** The user of /admin/users/ID. */
async function adminTarget(c: Call, ctx: AuthContext): Promise<UserRow> {
  const id = c.req.param('id')!;
  if (!UUID.test(id)) throw notFound('validation_failed', 'user_id must be an UUID');
  const user = await findUserById(ctx.sql, id);
  if (!user) throw notFound('user_not_found', 'User not found');
  return user;
}

async function deleteAdminUser(c: Call, ctx: AuthContext) {
  const user = await adminTarget(c, ctx);
  const body = await readBody(c, true);
  if (body.should_soft_delete === true) throw validationFailed('Soft deletion is not available on the embedded stack');
  await deleteUser(ctx.sql, user.id);
  return {};
}

async function adminUpdate(c: Call, ctx: AuthContext) {
  const user = await adminTarget(c, ctx);
  const body = await readBody(c);
  const email = stringField(body, 'email');
  if ((email && email.toLowerCase() !== user.email) || stringField(body, 'phone')) {
    throw unprocessable('email_provider_disabled', 'Changing email or phone is not available on the embedded stack');
  }
  const password = stringField(body, 'password');
  await ctx.sql.begin(async (tx) => {
    await updateUser(tx, user, {
      password: password || undefined,
      userMetadata: objectField(body, 'user_metadata'),
      appMetadata: objectField(body, 'app_metadata'),
      confirmEmail: body.email_confirm === true,
      bannedUntil: banUntil(stringField(body, 'ban_duration')),
    });
    // GoTrue's UpdatePassword without a session: every session of the user ends.
    if (password) await logout(tx, user.id, undefined, 'global');
  });
  return userJson((await findUserById(ctx.sql, user.id))!);
}

function randomPassword() {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(36))).toString('base64url');
}

const methodNotAllowed = () => { throw new AuthError(405, 'method_not_allowed', 'Method not allowed'); };

/** Adds the /admin/users routes to the Auth app; each checks the admin token before anything else. */
export function adminUserRoutes(app: Hono<AuthEnv>, ctx: AuthContext) {
  const admin = (handler: (c: Call, ctx: AuthContext) => unknown) => async (c: Call) => {
    requireAdmin(c, ctx);
    const result = await handler(c, ctx);
    return result instanceof Response ? result : respond(c, 200, result);
  };
  app.get('/admin/users', admin(listAdminUsers));
  app.post('/admin/users', admin(createAdminUser));
  app.get('/admin/users/:id', admin(async (c) => userJson(await adminTarget(c, ctx))));
  app.put('/admin/users/:id', admin(adminUpdate));
  app.delete('/admin/users/:id', admin(deleteAdminUser));
  // After the methods above: Hono matches in order of registration.
  app.all('/admin/users', admin(methodNotAllowed));
  app.all('/admin/users/:id', admin(async (c) => {
    await adminTarget(c, ctx);
    methodNotAllowed();
  }));
}
