/**
 * Every setting of the sync function, read once from the environment at start-up, with defaults.
 * docs/http-api.md lists them. Invalid values fail the start (a misconfigured function should not
 * serve with surprising limits). The limits default to, and may only lower, the SQL API's own
 * (SQL_LIMITS, generated from private.limits()).
 */
import { SQL_LIMITS } from './limits.ts';

function env(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export interface SyncConfig {
  /** Request bodies larger than this are refused with 413 before parsing. */
  maxBodyBytes: number;
  maxLogsPerPush: number;
  /** Largest `limit` of POST /pull. */
  maxPullLimit: number;
  defaultPullLimit: number;
  /** Largest `encryptedData` of one log (base64 characters). */
  maxEncryptedDataChars: number;
  /** Sum of `encryptedData` lengths of one push. */
  maxPushDataChars: number;
  /** `*` or a list of allowed origins. */
  corsOrigins: '*' | string[];
  /** Reported by the health route. */
  env: string;
  /** Base URL of PostgREST (no trailing slash). */
  postgrestUrl: string;
  /** Sent as `apikey` to PostgREST through the gateway (hosted Supabase needs it): the default publishable key, else the legacy anon key. */
  anonKey: string;
  /** How the function reaches Postgres: `rest` (PostgREST, the caller's token) or `direct` (db-direct.ts). */
  dbTransport: 'rest' | 'direct';
  /** `direct` only: SUPABASE_DB_URL (required then), pool size. */
  dbUrl: string;
  dbPoolSize: number;
}

/** The default publishable key of SUPABASE_PUBLISHABLE_KEYS (`{"default": "sb_publishable_…"}`), if any. */
function publishableKey(): string | undefined {
  const raw = env('SUPABASE_PUBLISHABLE_KEYS');
  if (raw === undefined) return env('SUPABASE_PUBLISHABLE_KEY');
  try {
    const value = (JSON.parse(raw) as Record<string, unknown>).default;
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    throw new Error('SUPABASE_PUBLISHABLE_KEYS must be JSON like {"default":"sb_publishable_…"}');
  }
}

export function loadConfig(): SyncConfig {
  const supabaseUrl = (env('SUPABASE_URL') ?? 'http://127.0.0.1:54321').replace(/\/+$/, '');
  const cors = env('CORS_ORIGIN') ?? '*';
  const maxPullLimit = intEnv('SYNC_MAX_PULL_LIMIT', SQL_LIMITS.maxPullCount, 1, SQL_LIMITS.maxPullCount);
  const dbTransport = env('SYNC_DB_TRANSPORT') ?? 'rest';
  if (dbTransport !== 'rest' && dbTransport !== 'direct') {
    throw new Error(`SYNC_DB_TRANSPORT must be "rest" or "direct", got "${dbTransport}"`);
  }
  const dbUrl = env('SUPABASE_DB_URL') ?? '';
  if (dbTransport === 'direct' && dbUrl === '') throw new Error('SYNC_DB_TRANSPORT=direct needs SUPABASE_DB_URL');
  return {
    maxBodyBytes: intEnv('SYNC_MAX_BODY_BYTES', 20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxLogsPerPush: intEnv('SYNC_MAX_LOGS_PER_PUSH', SQL_LIMITS.maxLogsPerPush, 1, SQL_LIMITS.maxLogsPerPush),
    maxPullLimit,
    defaultPullLimit: intEnv('SYNC_DEFAULT_PULL_LIMIT', Math.min(100, maxPullLimit), 1, maxPullLimit),
    maxEncryptedDataChars: intEnv('SYNC_MAX_ENCRYPTED_DATA_CHARS', SQL_LIMITS.maxLogDataChars, 4, SQL_LIMITS.maxLogDataChars),
    maxPushDataChars: intEnv('SYNC_MAX_PUSH_DATA_CHARS', SQL_LIMITS.maxPushDataChars, 4, SQL_LIMITS.maxPushDataChars),
    corsOrigins: cors === '*' ? '*' : cors.split(',').map((o) => o.trim()).filter((o) => o !== ''),
    env: env('SYNC_ENV') ?? 'development',
    postgrestUrl: (env('HAEX_POSTGREST_URL') ?? `${supabaseUrl}/rest/v1`).replace(/\/+$/, ''),
    anonKey: publishableKey() ?? env('SUPABASE_ANON_KEY') ?? '',
    dbTransport,
    dbUrl,
    dbPoolSize: intEnv('SYNC_DB_POOL_SIZE', 10, 1, 100),
  };
}

export const config: SyncConfig = loadConfig();
