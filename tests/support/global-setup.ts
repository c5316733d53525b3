/**
 * Starts one throwaway stack per test project and stops it at the end. The projects are the key
 * matrix (vitest.config.ts): `hs256` runs every test against the legacy mode (HS256 with the JWT
 * secret, legacy anon key in clients); `es256` runs the supabase-js, client-library, Realtime and
 * function suites against a stack whose Auth signs with an ES256 key written by
 * `supabase gen signing-key` (SUPABASE_AUTH_SIGNING_KEYS_PATH), clients using the publishable key.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { SigningJwk } from '../../stack/jwt.ts';
import type { StackInfo } from '../../stack/stack.ts';
import { cliSigningKey, writeSigningKeys } from './signing-keys.ts';
import { installLatestSupabaseJs } from './supabase-js-latest.ts';
import { startThrowawayStack } from './throwaway-stack.ts';

export type KeyMode = 'hs256' | 'es256';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo & {
      POSTGREST_URL: string; DATA_DIR: string;
      /** Which side of the key matrix this project runs. */
      KEY_MODE: KeyMode;
      /** The private signing keys in es256 mode (tests sign and forge tokens with them); [] in hs256. */
      SIGNING_KEYS: SigningJwk[];
      /** The key clients pass to createClient: the legacy anon key (hs256) or the publishable key (es256). */
      CLIENT_KEY: string;
    };
  }
}

export default async function setup(project: TestProject) {
  await installLatestSupabaseJs();
  const started = Date.now();
  const mode: KeyMode = project.name === 'es256' ? 'es256' : 'hs256';
  const env: Record<string, string> = {};
  let signingKeys: SigningJwk[] = [];
  if (mode === 'es256') {
    const keysDir = mkdtempSync(path.join(tmpdir(), 'haex-keys-'));
    env.SUPABASE_AUTH_SIGNING_KEYS_PATH = writeSigningKeys(keysDir, [cliSigningKey('ES256')]);
    signingKeys = JSON.parse(readFileSync(env.SUPABASE_AUTH_SIGNING_KEYS_PATH, 'utf8')) as SigningJwk[];
  }
  // Every test file signs in from 127.0.0.1: the shared stack lifts config.toml's per-IP limits
  // (30 sign-ins per 5 minutes); tests/auth-limits.test.ts checks them on a stack of its own.
  const stack = await startThrowawayStack({ env, auth: { signInSignUpsPer5Min: 1_000_000, tokenRefreshesPer5Min: 1_000_000 } });
  console.log(`test stack (${mode}) ready in ${Date.now() - started} ms at ${stack.info.API_URL}`);
  project.provide('stack', {
    ...stack.info, POSTGREST_URL: `http://127.0.0.1:${stack.postgrestPort}`, DATA_DIR: stack.dataDir,
    KEY_MODE: mode, SIGNING_KEYS: signingKeys, CLIENT_KEY: mode === 'es256' ? stack.info.PUBLISHABLE_KEY : stack.info.ANON_KEY,
  });
  return async () => {
    await stack.dispose();
  };
}
