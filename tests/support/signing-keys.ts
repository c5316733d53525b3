/**
 * Signing keys for tests: written by the real CLI (`supabase gen signing-key`, which needs no
 * Docker), so the stack is tested against the file format users get, not our idea of it.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SigningJwk } from '../../stack/jwt.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

/** One private JWK from `supabase gen signing-key --algorithm <alg>`. */
export function cliSigningKey(alg: 'ES256' | 'RS256'): SigningJwk {
  const out = execFileSync(path.join(root, 'node_modules', '.bin', 'supabase'), ['gen', 'signing-key', '--algorithm', alg],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
  const line = out.split('\n').find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error(`supabase gen signing-key printed no key: ${out.slice(0, 200)}`);
  return JSON.parse(line) as SigningJwk;
}

/** Writes keys as the file `[auth] signing_keys_path` names (a JSON array); returns its path. */
export function writeSigningKeys(dir: string, keys: SigningJwk[]): string {
  const file = path.join(dir, 'signing_keys.json');
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return file;
}
