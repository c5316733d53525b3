/**
 * The well-known local defaults of `supabase start`, so that one client configuration works
 * against `npm start` and `supabase start` alike. They are public and for local use only: a
 * hosted project has its own secret and keys.
 */
import { signJwt } from './jwt.ts';

export const LOCAL_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';

/** Supabase's demo API keys: `{"iss":"supabase-demo","role":…,"exp":1983812996}` signed with the secret. */
export function apiKeysFor(secret: string) {
  const sign = (role: string) => signJwt({ iss: 'supabase-demo', role, exp: 1983812996 }, secret);
  return { anonKey: sign('anon'), serviceRoleKey: sign('service_role') };
}

export const DEFAULT_API_PORT = 54321;
export const DEFAULT_DB_PORT = 54322;
export const DEFAULT_DB_PASSWORD = 'postgres';
