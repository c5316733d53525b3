/**
 * The one mapping between the API's camelCase names and the SQL API's snake_case names: the
 * generic rule (`encrypted_data` <-> `encryptedData`), except the API fields whose SQL argument is
 * named otherwise (RENAMED). Used for SQL arguments, SQL answers, and field names in SQL errors.
 */

/** SQL name -> API name, where the API does not use the camelCase of the SQL name. */
const RENAMED: Record<string, string> = { max_count: 'limit', device_name: 'name' };

/** The API's name of a SQL (snake_case) name. */
export const camelName = (name: string): string => RENAMED[name] ?? name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The SQL name of an API (camelCase) name (the generic rule: renamed fields are passed by their SQL name). */
export const snakeName = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

type Row = Record<string, unknown>;
const mapKeys = (row: Row, rename: (name: string) => string, deep: (value: unknown) => unknown): Row =>
  Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined).map(([k, v]) => [rename(k), deep(v)]));
const isRow = (value: unknown): value is Row => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A SQL answer (row or jsonb object) in API names; objects in an array value too (e.g. grants). */
export const camelKeys = (row: Row): Row => mapKeys(row, camelName,
  (v) => (Array.isArray(v) ? v.map((x) => (isRow(x) ? camelKeys(x) : x)) : v));

/** SQL arguments from an API object: keys in snake_case, undefined fields left out, objects in arrays too. */
export const snakeKeys = (input: Row): Row => mapKeys(input, snakeName,
  (v) => (Array.isArray(v) ? v.map((x) => (isRow(x) ? snakeKeys(x) : x)) : v));

/**
 * The fields our SQL names in error messages and `detail` paths (`logs[3].encrypted_data`): these
 * words, and only these, are rewritten to API names in the text a client sees.
 */
const ERROR_FIELDS = [
  'vault_id', 'encrypted_vault_key', 'if_updated_at', 'encrypted_data', 'haex_timestamp', 'device_id', 'record_key',
  'after_sequence', 'max_count', 'device_name',
  // shared vaults (issue 18)
  'key_generation', 'replaces_generation', 'invitation_id', 'invitee_id', 'user_id', 'expires_in_seconds', 'max_uses',
  'owner_key', 'recipient_id', 'ephemeral_public_key', 'sealed_key', 'encryption_public_key', 'signing_public_key',
  'encrypted_private_keys',
];
const ERROR_FIELD = new RegExp(`\\b(${ERROR_FIELDS.join('|')})\\b`, 'g');

/** An error text of our SQL with its field names in API names. */
export const apiNames = (text: string): string => text.replace(ERROR_FIELD, camelName);
