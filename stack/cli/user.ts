/**
 * `npm run user -- EMAIL [--password P]`: creates (or finds) a user of the running stack and signs it
 * in, through the Auth service's own code; prints { id, email, access_token, refresh_token }.
 */
import { parseArgs } from 'node:util';
import { loadConfig, readSigningKeys } from '../config.ts';
import { findRunningStack } from '../registry.ts';
import { ensureUser } from '../users.ts';

let email: string | undefined;
let password: string | undefined;
try {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { password: { type: 'string' } } });
  if (positionals.length !== 1) throw new Error('one EMAIL expected');
  [email] = positionals;
  password = values.password;
} catch {
  console.error('usage: npm run user -- EMAIL [--password PASSWORD]');
  process.exit(2);
}
const config = loadConfig();
const found = findRunningStack();
if ('error' in found) {
  console.error(found.error);
  process.exit(1);
}
const { info } = found;
try {
  if (password !== undefined && password.length < config.auth.minimumPasswordLength) {
    throw new Error(`Password should be at least ${config.auth.minimumPasswordLength} characters.`);
  }
  const user = await ensureUser(info.DB_URL, email!, {
    jwtSecret: info.JWT_SECRET, signingKeys: info.SIGNING_KEYS_PATH ? readSigningKeys(info.SIGNING_KEYS_PATH) : [],
    apiUrl: info.API_URL, expiresInSeconds: info.JWT_EXPIRY, password, settings: config.auth,
  });
  console.log(JSON.stringify(user, null, 2));
} catch (error) {
  console.error(`haex-sync: ${(error as Error).message}`);
  process.exit(1);
}
