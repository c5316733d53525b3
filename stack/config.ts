/**
 * Settings of the embedded stack: `supabase/config.toml` (the same file `supabase start` reads)
 * plus the environment variables documented in the README.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { DEFAULT_API_PORT, DEFAULT_DB_PASSWORD, DEFAULT_DB_PORT, LOCAL_JWT_SECRET } from './defaults.ts';

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
  jwtExpirySeconds: number;
  exposedSchemas: string[];
  extraSearchPath: string[];
  maxRows: number;
  functions: FunctionConfig[];
}

interface ConfigToml {
  api?: { schemas?: string[]; extra_search_path?: string[]; max_rows?: number };
  auth?: { jwt_expiry?: number };
  functions?: Record<string, { enabled?: boolean; verify_jwt?: boolean; entrypoint?: string; import_map?: string }>;
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
  return {
    projectRoot,
    dataDir: path.resolve(projectRoot, env.HAEX_DATA_DIR || '.haex'),
    host: '127.0.0.1',
    apiPort: portFrom(env, 'HAEX_API_PORT', DEFAULT_API_PORT),
    dbPort: portFrom(env, 'HAEX_DB_PORT', DEFAULT_DB_PORT),
    dbPassword: env.HAEX_DB_PASSWORD || DEFAULT_DB_PASSWORD,
    jwtSecret,
    jwtExpirySeconds: toml.auth?.jwt_expiry ?? 3600,
    exposedSchemas: toml.api?.schemas ?? ['public', 'graphql_public'],
    extraSearchPath: toml.api?.extra_search_path ?? ['public', 'extensions'],
    maxRows: toml.api?.max_rows ?? 1000,
    functions,
  };
}
