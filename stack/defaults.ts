/**
 * The well-known local defaults of `supabase start`, so that one client configuration works
 * against `npm start` and `supabase start` alike. They are public and for local use only: a
 * hosted project has its own secret and keys.
 */
import { type SigningJwk, signJwt, signJwtWithKey } from './jwt.ts';

export const LOCAL_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
/** The CLI's hard-coded local API keys (pkg/config/apikeys.go). */
export const LOCAL_PUBLISHABLE_KEY = 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH';
export const LOCAL_SECRET_KEY = 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz';

/**
 * The legacy anon / service_role keys as the CLI makes them (apikeys.go `generateJWT`): without
 * signing keys Supabase's demo keys, `{"iss":"supabase-demo","role":…,"exp":1983812996}` in HS256;
 * with signing keys the same claims signed by the first key (its `kid` in the header), valid for
 * ten years from the start.
 */
export function apiKeysFor(secret: string, signingKeys: readonly SigningJwk[] = [], nowSeconds = Math.floor(Date.now() / 1000)) {
  const first = signingKeys[0];
  const sign = first
    ? (role: string) => signJwtWithKey({ iss: 'supabase-demo', role, exp: nowSeconds + 10 * 365 * 24 * 3600 }, first)
    : (role: string) => signJwt({ iss: 'supabase-demo', role, exp: 1983812996 }, secret);
  return { anonKey: sign('anon'), serviceRoleKey: sign('service_role') };
}

export const DEFAULT_API_PORT = 54321;
export const DEFAULT_DB_PORT = 54322;
export const DEFAULT_DB_PASSWORD = 'postgres';
