/**
 * Settings of the embedded stack: `supabase/config.toml` (the same file `supabase start` reads)
 * plus the environment variables documented in the README.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { DEFAULT_API_PORT, DEFAULT_DB_PASSWORD, DEFAULT_DB_PORT, LOCAL_JWT_SECRET, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY } from './defaults.ts';
import { type SigningJwk, validateSigningKeys } from './jwt.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface FunctionConfig {
  name: string;
  verifyJwt: boolean;
  /** Absolute path of the entrypoint. */
  entrypoint: string;
  /** Absolute path of the function's deno.json, if any. */
  denoConfig?: string;
}

export interface StackConfig {
  projectRoot: string;
  dataDir: string;
  host: string;
  apiPort: number;
  dbPort: number;
  dbPassword: string;
  jwtSecret: string;
  /**
   * `[auth] signing_keys_path` (or SUPABASE_AUTH_SIGNING_KEYS_PATH, as the CLI reads it), resolved
   * against supabase/ like the CLI does; the keys it holds. Empty: HS256 with the JWT secret.
   */
  signingKeysPath?: string;
  signingKeys: SigningJwk[];
  /** `[auth] publishable_key` / `secret_key` (env SUPABASE_AUTH_PUBLISHABLE_KEY / _SECRET_KEY), else the CLI's local defaults. */
  publishableKey: string;
  secretKey: string;
  exposedSchemas: string[];
  extraSearchPath: string[];
  maxRows: number;
  /** `[haex] vault_quota_bytes`: the default per-vault byte quota over logs and files (undefined: none; issue 26). */
  vaultQuotaBytes: number | undefined;
  functions: FunctionConfig[];
  auth: AuthSettings;
  /** `[storage]` of config.toml, as far as the embedded Storage (stack/storage/) serves it. */
  storage: { fileSizeLimit: number; buckets: BucketConfig[] };
}

/** `[storage.buckets.<id>]`: created (or updated) on start, as `supabase start` seeds them. */
export interface BucketConfig {
  id: string;
  public: boolean;
  fileSizeLimit: number | null;
  allowedMimeTypes: string[] | null;
}

/** `[auth]` of config.toml, as far as the embedded Auth service (stack/auth/) serves it. */
export interface AuthSettings {
  jwtExpirySeconds: number;
  minimumPasswordLength: number;
  refreshTokenRotation: boolean;
  refreshTokenReuseIntervalSeconds: number;
  /** `[auth] enable_signup` and `[auth.email] enable_signup`. */
  enableSignup: boolean;
  /** `[auth.email] enable_confirmations`: without a mail server, unconfirmed users cannot sign in. */
  enableConfirmations: boolean;
  /** `[auth.rate_limit] sign_in_sign_ups`: password sign-ins and sign-ups per IP per 5 minutes. */
  signInSignUpsPer5Min: number;
  /** `[auth.rate_limit] token_refresh`: refresh-token grants per IP per 5 minutes. */
  tokenRefreshesPer5Min: number;
}

interface ConfigToml {
  api?: { schemas?: string[]; extra_search_path?: string[]; max_rows?: number };
  auth?: {
    jwt_expiry?: number; signing_keys_path?: string; publishable_key?: string; secret_key?: string;
    minimum_password_length?: number; enable_signup?: boolean;
    enable_refresh_token_rotation?: boolean; refresh_token_reuse_interval?: number;
    email?: { enable_signup?: boolean; enable_confirmations?: boolean };
    rate_limit?: { sign_in_sign_ups?: number; token_refresh?: number };
  };
  functions?: Record<string, { enabled?: boolean; verify_jwt?: boolean; entrypoint?: string; import_map?: string }>;
  haex?: { vault_quota_bytes?: number };
  storage?: {
    file_size_limit?: string | number;
    buckets?: Record<string, { public?: boolean; file_size_limit?: string | number; allowed_mime_types?: string[] }>;
  };
}

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return port;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, projectRoot = PROJECT_ROOT): StackConfig {
  const supabaseDir = path.join(projectRoot, 'supabase');
  const toml = parse(readFileSync(path.join(supabaseDir, 'config.toml'), 'utf8')) as ConfigToml;
  const functions = Object.entries(toml.functions ?? {})
    .filter(([, fn]) => fn.enabled !== false)
    .map(([name, fn]): FunctionConfig => ({
      name,
      verifyJwt: fn.verify_jwt !== false,
      entrypoint: path.resolve(supabaseDir, fn.entrypoint ?? `./functions/${name}/index.ts`),
      denoConfig: fn.import_map ? path.resolve(supabaseDir, fn.import_map) : undefined,
    }));
  const jwtSecret = env.HAEX_JWT_SECRET || LOCAL_JWT_SECRET;
  if (jwtSecret.length < 32) throw new Error('HAEX_JWT_SECRET must be at least 32 characters long');
  const auth = toml.auth ?? {};
  // The CLI's env overrides (viper: SUPABASE_AUTH_<KEY>) win over config.toml, as on `supabase start`.
  const signingKeysSetting = env.SUPABASE_AUTH_SIGNING_KEYS_PATH || auth.signing_keys_path;
  const signingKeysPath = signingKeysSetting ? path.resolve(supabaseDir, signingKeysSetting) : undefined;
  const signingKeys = signingKeysPath ? readSigningKeys(signingKeysPath) : [];
  const publishableKey = env.SUPABASE_AUTH_PUBLISHABLE_KEY || auth.publishable_key || LOCAL_PUBLISHABLE_KEY;
  const secretKey = env.SUPABASE_AUTH_SECRET_KEY || auth.secret_key || LOCAL_SECRET_KEY;
  for (const [name, value, prefix] of [['publishable_key', publishableKey, 'sb_publishable_'], ['secret_key', secretKey, 'sb_secret_']] as const) {
    if (!value.startsWith(prefix)) throw new Error(`[auth] ${name} must start with ${prefix}`);
  }
  const jwtExpirySeconds = auth.jwt_expiry ?? 3600;
  const vaultQuotaBytes = toml.haex?.vault_quota_bytes;
  if (vaultQuotaBytes !== undefined && !(Number.isSafeInteger(vaultQuotaBytes) && vaultQuotaBytes > 0)) {
    throw new Error('[haex] vault_quota_bytes must be a positive integer (bytes), or absent for no quota');
  }
  return {
    projectRoot,
    dataDir: path.resolve(projectRoot, env.HAEX_DATA_DIR || '.haex'),
    host: '127.0.0.1',
    apiPort: portFrom(env, 'HAEX_API_PORT', DEFAULT_API_PORT),
    dbPort: portFrom(env, 'HAEX_DB_PORT', DEFAULT_DB_PORT),
    dbPassword: env.HAEX_DB_PASSWORD || DEFAULT_DB_PASSWORD,
    jwtSecret,
    signingKeysPath,
    signingKeys,
    publishableKey,
    secretKey,
    exposedSchemas: toml.api?.schemas ?? ['public', 'graphql_public'],
    extraSearchPath: toml.api?.extra_search_path ?? ['public', 'extensions'],
    maxRows: toml.api?.max_rows ?? 1000,
    vaultQuotaBytes,
    functions,
    auth: {
      jwtExpirySeconds,
      // Defaults are GoTrue's where config.toml is silent.
      minimumPasswordLength: auth.minimum_password_length ?? 6,
      refreshTokenRotation: auth.enable_refresh_token_rotation ?? true,
      refreshTokenReuseIntervalSeconds: auth.refresh_token_reuse_interval ?? 10,
      enableSignup: (auth.enable_signup ?? true) && (auth.email?.enable_signup ?? true),
      enableConfirmations: auth.email?.enable_confirmations ?? false,
      signInSignUpsPer5Min: auth.rate_limit?.sign_in_sign_ups ?? 30,
      tokenRefreshesPer5Min: auth.rate_limit?.token_refresh ?? 150,
    },
    // The CLI's default when config.toml is silent: 50MiB.
    storage: {
      fileSizeLimit: parseByteSize(toml.storage?.file_size_limit ?? '50MiB', '[storage] file_size_limit'),
      buckets: Object.entries(toml.storage?.buckets ?? {}).map(([id, bucket]): BucketConfig => ({
        id,
        public: bucket.public ?? false,
        fileSizeLimit: bucket.file_size_limit === undefined ? null
          : parseByteSize(bucket.file_size_limit, `[storage.buckets.${id}] file_size_limit`),
        allowedMimeTypes: bucket.allowed_mime_types ?? null,
      })),
    },
  };
}

/** A size as config.toml writes it ("50MiB", "5MB", "500KB", a number of bytes); units are binary, as the CLI reads them. */
export function parseByteSize(value: string | number, name: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(value) : null;
  if (!match) throw new Error(`${name} must be a size such as "50MiB", got ${JSON.stringify(value)}`);
  const unit = (match[2] ?? 'b').toLowerCase()[0]!;
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit as 'b' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(match[1]) * factor);
}

export function readSigningKeys(file: string): SigningJwk[] {
  if (!existsSync(file)) {
    throw new Error(`signing keys file ${file} does not exist ([auth] signing_keys_path or SUPABASE_AUTH_SIGNING_KEYS_PATH); `
      + 'create one with `npx supabase gen signing-key --algorithm ES256`');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`signing keys file ${file} is not JSON: ${(error as Error).message}`);
  }
  const keys = validateSigningKeys(parsed, file);
  if (keys.length === 0) throw new Error(`signing keys file ${file} holds no key`);
  return keys;
}
