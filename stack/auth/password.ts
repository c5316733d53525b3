/**
 * Password hashing as GoTrue does it: bcrypt, cost 10, the `$2a$` hash in auth.users.encrypted_password,
 * so a real GoTrue verifies passwords set here. bcrypt reads at most 72 bytes; GoTrue refuses longer
 * passwords (MaxPasswordLength = 72), and so do we.
 */
import bcrypt from 'bcryptjs';
import { validationFailed, WeakPasswordError } from './errors.ts';

export const BCRYPT_COST = 10;
export const MAX_PASSWORD_LENGTH = 72;

export async function hashPassword(password: string): Promise<string> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_LENGTH) {
    throw validationFailed(`Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
  // bcryptjs writes the `$2b$` prefix; for passwords under 255 bytes `$2a$` (Go's, GoTrue's) is the
  // same algorithm, so the hash is written exactly as GoTrue would write it.
  const hash = await bcrypt.hash(password, BCRYPT_COST);
  return hash.replace(/^\$2b\$/, '$2a$');
}

/** A hash of nothing anyone knows: compared against when the email is unknown, so both cases take as long. */
const DUMMY_HASH = bcrypt.hashSync('haex-sync: no such user', BCRYPT_COST);

export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
  const matches = await bcrypt.compare(password, hash || DUMMY_HASH);
  return matches && Boolean(hash);
}

/** GoTrue's checkPasswordStrength with `minimum_password_length` (no character-set rules, no HIBP). */
export function checkPasswordStrength(password: string, minimumLength: number) {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw validationFailed(`Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.length < minimumLength) {
    throw new WeakPasswordError(`Password should be at least ${minimumLength} characters.`, ['length']);
  }
}
