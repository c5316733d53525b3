/**
 * The two tokens of a session, exactly as GoTrue makes them.
 *
 * Access token: a JWT (stack/jwt.ts; HS256, or ES256/RS256 with the first signing key and its `kid`) with GoTrue's claims and nothing else: `aud`, `exp`,
 * `iat`, `iss` (`API_URL/auth/v1`), `sub`, `email`, `phone`, `app_metadata`, `user_metadata`,
 * `role`, `aal`, `amr` (`[{ method, timestamp }]` from auth.mfa_amr_claims), `session_id` (a row of
 * auth.sessions) and `is_anonymous`; lifetime `[auth] jwt_expiry`.
 *
 * Refresh token: GoTrue's refresh-token algorithm 2 (internal/crypto/refresh_tokens.go), which
 * stores no token at all: base64url (no padding) of
 *   0x00 (version) | session id (16 bytes) | counter (unsigned varint) | HMAC-SHA-256 of the
 *   preceding bytes under the session's key, first 16 bytes | SHA-256 of everything before, first 4 bytes.
 * The session row holds the key (`refresh_token_hmac_key`, 32 random bytes, base64url) and the
 * counter of the newest token (`refresh_token_counter`). A real GoTrue accepts these tokens.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type SigningJwk, signJwt, signJwtWithKey } from '../jwt.ts';

export interface AccessTokenSubject {
  id: string;
  aud: string;
  role: string;
  email: string;
  phone: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  is_anonymous: boolean;
}

export interface AccessTokenOptions {
  jwtSecret: string;
  /** With signing keys, the first one signs (ES256/RS256, its `kid` in the header), as GoTrue does. */
  signingKeys?: readonly SigningJwk[];
  /** `API_URL/auth/v1`, GoTrue's default issuer behind the gateway. */
  issuer: string;
  expiresInSeconds: number;
  sessionId: string;
  amr: { method: string; timestamp: number }[];
  /** For tests of expired tokens: the moment the token was issued (seconds). */
  issuedAt?: number;
}

export function signAccessToken(user: AccessTokenSubject, options: AccessTokenOptions): { token: string; expiresAt: number } {
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
  const exp = iat + options.expiresInSeconds;
  const claims = {
    aud: user.aud,
    exp,
    iat,
    iss: options.issuer,
    sub: user.id,
    email: user.email,
    phone: user.phone,
    app_metadata: user.app_metadata,
    user_metadata: user.user_metadata,
    role: user.role,
    aal: 'aal1',
    amr: options.amr,
    session_id: options.sessionId,
    is_anonymous: user.is_anonymous,
  };
  const key = options.signingKeys?.[0];
  const token = key ? signJwtWithKey(claims, key) : signJwt(claims, options.jwtSecret);
  return { token, expiresAt: exp };
}

const SIGNATURE_BYTES = 16;
const CHECKSUM_BYTES = 4;
const MIN_TOKEN_BYTES = 1 + 16 + 1 + SIGNATURE_BYTES + CHECKSUM_BYTES;

/** A new session's refresh-token key, as stored in auth.sessions.refresh_token_hmac_key. */
export const newRefreshTokenKey = () => randomBytes(32).toString('base64url');

function uvarint(value: bigint): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Buffer.from(bytes);
}

const uuidBytes = (id: string) => Buffer.from(id.replaceAll('-', ''), 'hex');
const uuidString = (bytes: Buffer) => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};
const signature = (key: string, message: Buffer) =>
  createHmac('sha256', Buffer.from(key, 'base64url')).update(message).digest().subarray(0, SIGNATURE_BYTES);

export function encodeRefreshToken(sessionId: string, counter: bigint, key: string): string {
  const message = Buffer.concat([Buffer.from([0]), uuidBytes(sessionId), uvarint(counter)]);
  const signed = Buffer.concat([message, signature(key, message)]);
  const checksum = createHash('sha256').update(signed).digest().subarray(0, CHECKSUM_BYTES);
  return Buffer.concat([signed, checksum]).toString('base64url');
}

export interface ParsedRefreshToken {
  sessionId: string;
  counter: bigint;
  /** Checks the signature against the session's key. */
  isSignedWith(key: string): boolean;
}

/** GoTrue's ParseRefreshToken: structure and checksum only; the signature needs the session's key. */
export function parseRefreshToken(token: string): ParsedRefreshToken | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < MIN_TOKEN_BYTES || bytes[0] !== 0) return undefined;
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  const checksum = createHash('sha256').update(body).digest().subarray(0, CHECKSUM_BYTES);
  if (!timingSafeEqual(checksum, bytes.subarray(bytes.length - CHECKSUM_BYTES))) return undefined;
  let counter = 0n;
  let shift = 0n;
  let offset = 17;
  for (;; offset++) {
    if (offset >= body.length || shift > 63n) return undefined;
    const byte = body[offset]!;
    counter |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (byte < 0x80) break;
  }
  offset += 1;
  if (body.length - offset !== SIGNATURE_BYTES) return undefined;
  const message = body.subarray(0, offset);
  const given = body.subarray(offset);
  return {
    sessionId: uuidString(body.subarray(1, 17)),
    counter,
    isSignedWith: (key) => timingSafeEqual(signature(key, message), given),
  };
}
