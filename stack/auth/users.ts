/**
 * Users and identities in GoTrue's tables (auth.users, auth.identities), written the way GoTrue
 * writes an email user: `aud`/`role` `authenticated`, the empty strings GoTrue keeps in its token
 * columns (a real GoTrue cannot read NULL there), app_metadata `{ provider: 'email', providers: ['email'] }`,
 * an `email` identity whose `provider_id` is the user id. A sign-up's user_metadata carries the
 * identity's claims (`sub`, `email`, `email_verified`, `phone_verified`) next to the caller's data;
 * admin-created users keep their metadata as given (see `NewUser.metadataFrom`).
 * `userJson` is GoTrue's user object (models.User's JSON).
 */
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { hashPassword } from './password.ts';

type Sql = postgres.Sql | postgres.TransactionSql;
type Json = Record<string, unknown>;

export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  invited_at: Date | null;
  confirmation_sent_at: Date | null;
  confirmed_at: Date | null;
  phone: string | null;
  phone_confirmed_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Json | null;
  raw_user_meta_data: Json | null;
  created_at: Date;
  updated_at: Date;
  banned_until: Date | null;
  deleted_at: Date | null;
  is_anonymous: boolean;
  identities: IdentityRow[];
}

interface IdentityRow {
  id: string; provider_id: string; user_id: string; identity_data: Json; provider: string;
  last_sign_in_at: string | null; created_at: string; updated_at: string; email: string | null;
}

const INSTANCE_ID = '00000000-0000-0000-0000-000000000000';

const iso = (value: Date | string | null | undefined) =>
  value === null || value === undefined ? undefined : new Date(value).toISOString();

/** GoTrue's user JSON: optional timestamps are left out when unset; email and phone are '' when unset. */
export function userJson(user: UserRow) {
  return dropUndefined({
    id: user.id,
    aud: user.aud ?? '',
    role: user.role ?? '',
    email: user.email ?? '',
    email_confirmed_at: iso(user.email_confirmed_at),
    invited_at: iso(user.invited_at),
    phone: user.phone ?? '',
    phone_confirmed_at: iso(user.phone_confirmed_at),
    confirmation_sent_at: iso(user.confirmation_sent_at),
    confirmed_at: iso(user.confirmed_at),
    last_sign_in_at: iso(user.last_sign_in_at),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: user.identities.map((identity) => dropUndefined({
      identity_id: identity.id,
      id: identity.provider_id,
      user_id: identity.user_id,
      identity_data: identity.identity_data,
      provider: identity.provider,
      last_sign_in_at: iso(identity.last_sign_in_at),
      created_at: iso(identity.created_at),
      updated_at: iso(identity.updated_at),
      email: identity.email ?? undefined,
    })),
    created_at: iso(user.created_at),
    updated_at: iso(user.updated_at),
    banned_until: iso(user.banned_until),
    deleted_at: iso(user.deleted_at),
    is_anonymous: user.is_anonymous,
  });
}

function dropUndefined<T extends Json>(object: T): T {
  for (const key of Object.keys(object)) if (object[key] === undefined) delete object[key];
  return object;
}

const USER_COLUMNS = `u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at,
  u.confirmation_sent_at, u.confirmed_at, u.phone, u.phone_confirmed_at, u.last_sign_in_at,
  u.raw_app_meta_data, u.raw_user_meta_data, u.created_at, u.updated_at, u.banned_until, u.deleted_at,
  u.is_anonymous,
  coalesce((select json_agg(i order by i.created_at) from auth.identities i where i.user_id = u.id), '[]') as identities`;

export async function findUserById(sql: Sql, id: string): Promise<UserRow | undefined> {
  const [row] = await sql.unsafe<UserRow[]>(`select ${USER_COLUMNS} from auth.users u where u.id = $1`, [id]);
  return row;
}

/** The password user of this email (GoTrue: FindUserByEmailAndAudience; SSO users are not email users). */
export async function findUserByEmail(sql: Sql, email: string): Promise<UserRow | undefined> {
  const [row] = await sql.unsafe<UserRow[]>(
    `select ${USER_COLUMNS} from auth.users u where u.email = $1 and u.aud = 'authenticated' and not u.is_sso_user`,
    [email.toLowerCase()]);
  return row;
}

export interface NewUser {
  email: string;
  /** Hashed with bcrypt (cost 10). Without one the user cannot sign in with a password. */
  password?: string;
  userMetadata?: Json;
  appMetadata?: Json;
  /** Confirm the email now (sign-up without confirmations, admin `email_confirm`, `npm run user`). */
  confirmed: boolean;
  /** Sign-up with confirmations on: GoTrue records when it sent the confirmation mail. */
  confirmationSent?: boolean;
  /**
   * Sign-up copies the identity's claims (`sub`, `email`, `email_verified`, `phone_verified`) into
   * user_metadata, as GoTrue does; admin createUser stores the given metadata as given and adds only
   * `email_verified: true` when it confirms (GoTrue's User.Confirm).
   */
  metadataFrom?: 'signup' | 'admin';
}

/**
 * Inserts the user and its email identity in one transaction; undefined if the email is taken.
 * The one way users are created: sign-up, admin createUser and `npm run user` all come here.
 */
export async function createUser(sql: postgres.Sql, input: NewUser): Promise<UserRow | undefined> {
  const email = input.email.toLowerCase();
  const encrypted = input.password === undefined ? '' : await hashPassword(input.password);
  return sql.begin(async (tx) => {
    const id = randomUUID();
    const identityData = { sub: id, email, email_verified: input.confirmed, phone_verified: false };
    const inserted = await tx`
      insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
        confirmation_sent_at, confirmation_token, recovery_token, email_change_token_new, email_change,
        raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_sso_user, is_anonymous)
      values (${INSTANCE_ID}, ${id}, 'authenticated', 'authenticated', ${email}, ${encrypted},
        ${input.confirmed ? tx`now()` : null}, ${input.confirmationSent ? tx`now()` : null}, '', '', '', '',
        ${tx.json({ ...input.appMetadata, provider: 'email', providers: ['email'] } as postgres.JSONValue)},
        ${tx.json(userMetadataOf(input, identityData) as postgres.JSONValue)}, now(), now(), false, false)
      on conflict (email) where (is_sso_user = false) do nothing
      returning id`;
    if (inserted.length === 0) return undefined;
    await tx`
      insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
      values (${id}, ${id}, ${tx.json(identityData)}, 'email', now(), now(), now())`;
    return findUserById(tx, id);
  });
}

function userMetadataOf(input: NewUser, identityData: Json): Json {
  if (input.metadataFrom !== 'admin') return { ...input.userMetadata, ...identityData };
  return input.confirmed ? { ...input.userMetadata, email_verified: true } : { ...input.userMetadata };
}

/** GoTrue's UpdateUserMetaData / UpdateAppMetaData: keys merge into the stored object; a null value removes its key. */
export function mergeMetadata(stored: Json | null, update: Json): Json {
  const merged: Json = { ...stored };
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export interface UserUpdate {
  password?: string;
  userMetadata?: Json;
  appMetadata?: Json;
  confirmEmail?: boolean;
  bannedUntil?: Date | null;
}

export async function updateUser(sql: Sql, user: UserRow, update: UserUpdate): Promise<void> {
  const encrypted = update.password === undefined ? undefined : await hashPassword(update.password);
  // GoTrue's User.Confirm records the verification in user_metadata and in the email identity.
  const confirming = update.confirmEmail === true && user.email_confirmed_at === null;
  const metadataUpdate = confirming ? { ...update.userMetadata, email_verified: true } : update.userMetadata;
  const userMetadata = metadataUpdate && mergeMetadata(user.raw_user_meta_data, metadataUpdate);
  if (confirming) {
    await sql`update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb, updated_at = now()
      where user_id = ${user.id} and provider = 'email'`;
  }
  const appMetadata = update.appMetadata && mergeMetadata(user.raw_app_meta_data, update.appMetadata);
  await sql`
    update auth.users set
      encrypted_password = coalesce(${encrypted ?? null}, encrypted_password),
      raw_user_meta_data = coalesce(${userMetadata ? sql.json(userMetadata as postgres.JSONValue) : null}, raw_user_meta_data),
      raw_app_meta_data = coalesce(${appMetadata ? sql.json(appMetadata as postgres.JSONValue) : null}, raw_app_meta_data),
      email_confirmed_at = case when ${update.confirmEmail === true} then coalesce(email_confirmed_at, now()) else email_confirmed_at end,
      banned_until = case when ${update.bannedUntil !== undefined} then ${update.bannedUntil ?? null}::timestamptz else banned_until end,
      updated_at = now()
    where id = ${user.id}`;
}

/** Deletes the user; sessions, identities and every haex-sync row of the user cascade. True if it existed. */
export async function deleteUser(sql: Sql, id: string): Promise<boolean> {
  const deleted = await sql`delete from auth.users where id = ${id} returning id`;
  return deleted.length > 0;
}

/** A page of users, newest first (GoTrue's default order), and the total count. */
export async function listUsers(sql: Sql, page: number, perPage: number): Promise<{ users: UserRow[]; total: number }> {
  const users = await sql.unsafe<UserRow[]>(
    `select ${USER_COLUMNS} from auth.users u where u.aud = 'authenticated' order by u.created_at desc, u.id desc limit $1 offset $2`,
    [perPage, (page - 1) * perPage]);
  const [count] = await sql<{ total: number }[]>`select count(*)::int as total from auth.users where aud = 'authenticated'`;
  return { users, total: count!.total };
}

export const isBanned = (user: UserRow) => user.banned_until !== null && user.banned_until.getTime() > Date.now();
