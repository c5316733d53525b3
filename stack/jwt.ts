/**
 * JSON Web Tokens of the embedded stack: HS256 with the project's JWT secret (the legacy mode), or
 * ES256 / RS256 with asymmetric signing keys (`[auth] signing_keys_path`, a JSON array of private
 * JWKs as `supabase gen signing-key` writes them).
 *
 * Wire format (RFC 7515 compact JWS): `base64url(header).base64url(payload).base64url(signature)`,
 * base64url without padding. HS256 tokens carry `{"alg":"HS256","typ":"JWT"}`; asymmetric ones
 * `{"alg","kid","typ":"JWT"}` as GoTrue signs them. ES256 signatures are the 64-byte IEEE P1363
 * form (r || s), not DER.
 *
 * Verification (`JwtVerifier`, one instance for Auth, the gateway and Realtime) follows the key set the CLI hands PostgREST, Realtime and the
 * functions (config.go `ResolveJWKS`): with signing keys, their public JWKs, looked up by `kid`
 * and `alg`; without, the JWT secret as one symmetric key. A token is accepted only if its header
 * names an algorithm of a key in that set (so no `none`, no HS256 signed with a public key), its
 * signature verifies, and a present `exp` is a number in the future. Every segment must be strict
 * base64url (the URL-safe alphabet, no padding, canonical trailing bits), so a token has exactly
 * one spelling. The shape, strict base64url and key choice are checked here; signature, algorithm
 * and `exp` by fast-jwt (synchronous); verified tokens are remembered until their `exp`.
 */
import { createHmac, createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';

export type JwtClaims = Record<string, unknown> & { exp?: number; role?: string; sub?: string };

/** A private JWK as `supabase gen signing-key` writes it. */
export interface SigningJwk {
  kty: 'EC' | 'RSA';
  kid?: string;
  alg: 'ES256' | 'RS256';
  use?: string;
  key_ops?: string[];
  ext?: boolean;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  d: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
}

export type PublicJwk = Omit<SigningJwk, 'd' | 'p' | 'q' | 'dp' | 'dq' | 'qi'>;

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function signJwt(claims: JwtClaims, secret: string): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Signs with a private JWK (ES256 or RS256), its `kid` in the header, as GoTrue does. */
export function signJwtWithKey(claims: JwtClaims, jwk: SigningJwk): string {
  const header = base64url(JSON.stringify(jwk.kid ? { alg: jwk.alg, kid: jwk.kid, typ: 'JWT' } : { alg: jwk.alg, typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const key = createPrivateKey({ key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
  const signature = cryptoSign('sha256', Buffer.from(`${header}.${payload}`),
    jwk.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${header}.${payload}.${base64url(signature)}`;
}

/** How the stack signs: the first signing key when there are any (as the CLI and GoTrue do), else HS256. */
export interface TokenSigner {
  alg: 'HS256' | 'ES256' | 'RS256';
  kid?: string;
  sign(claims: JwtClaims): string;
}

export function tokenSigner(jwtSecret: string, signingKeys: readonly SigningJwk[]): TokenSigner {
  const first = signingKeys[0];
  if (!first) return { alg: 'HS256', sign: (claims) => signJwt(claims, jwtSecret) };
  return { alg: first.alg, kid: first.kid, sign: (claims) => signJwtWithKey(claims, first) };
}

/** The public part of a signing key, as the CLI's `ToPublicJWK` makes it (key_ops: only `verify`). */
export function publicJwk(jwk: SigningJwk): PublicJwk {
  const out: PublicJwk = { kty: jwk.kty, ...(jwk.kid ? { kid: jwk.kid } : {}), ...(jwk.use ? { use: jwk.use } : {}), alg: jwk.alg };
  if (jwk.ext !== undefined) out.ext = jwk.ext;
  const ops = (jwk.key_ops ?? []).filter((op) => op === 'verify');
  if (ops.length > 0) out.key_ops = ops;
  if (jwk.kty === 'RSA') Object.assign(out, { n: jwk.n, e: jwk.e });
  else Object.assign(out, { crv: jwk.crv, x: jwk.x, y: jwk.y });
  return out;
}

/**
 * The key set the CLI gives PostgREST, Realtime and functions (`ResolveJWKS`): the public signing
 * keys, or, without signing keys, the JWT secret as one `oct` key (no `kid`, no `alg`).
 */
export function resolveJwks(jwtSecret: string, signingKeys: readonly SigningJwk[]): { keys: Record<string, unknown>[] } {
  if (signingKeys.length > 0) return { keys: signingKeys.map((key) => ({ ...publicJwk(key) })) };
  return { keys: [{ kty: 'oct', k: Buffer.from(jwtSecret).toString('base64url') }] };
}

/** Checks that a parsed signing-keys file holds usable keys; throws naming the first bad entry. */
export function validateSigningKeys(value: unknown, source: string): SigningJwk[] {
  if (!Array.isArray(value)) throw new Error(`${source}: signing keys must be a JSON array of private JWKs`);
  return value.map((key, index) => {
    const jwk = key as SigningJwk;
    const where = `${source}: key ${index}${jwk?.kid ? ` (kid ${jwk.kid})` : ''}`;
    if (typeof key !== 'object' || key === null) throw new Error(`${where} is not a JWK object`);
    if (!((jwk.kty === 'EC' && jwk.alg === 'ES256' && jwk.crv === 'P-256') || (jwk.kty === 'RSA' && jwk.alg === 'RS256'))) {
      throw new Error(`${where}: only ES256 (EC P-256) and RS256 (RSA) keys are supported, got kty ${jwk.kty} alg ${jwk.alg}`);
    }
    if (typeof jwk.d !== 'string') throw new Error(`${where} has no private part ("d"): give the private JWK`);
    try {
      createPrivateKey({ key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch (error) {
      throw new Error(`${where} is not a valid key: ${(error as Error).message}`);
    }
    return jwk;
  });
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The bytes of a strict base64url segment, or null (padding, foreign characters, non-canonical). */
export function strictBase64url(segment: string): Buffer | null {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return null;
  const bytes = Buffer.from(segment, 'base64url');
  // Non-zero bits after the last full byte decode like zero bits: only the canonical spelling counts.
  return bytes.toString('base64url') === segment ? bytes : null;
}

/** A JSON object from a strict base64url segment, or null. */
function jsonObject(segment: string): Record<string, unknown> | null {
  const bytes = strictBase64url(segment);
  if (!bytes) return null;
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

export type JwtFailure = 'malformed' | 'unknown_key' | 'bad_signature' | 'expired';
/** A failed check carries the token's claims when they could be read (e.g. `exp` of an expired token). */
export type JwtCheck = { ok: true; claims: JwtClaims } | { ok: false; reason: JwtFailure; claims?: JwtClaims };

interface VerificationKey {
  alg: 'HS256' | 'ES256' | 'RS256';
  kid?: string;
  /** fast-jwt's verifier for this key: signature, algorithm and `exp`, with its LRU of verified tokens. */
  verify: (token: string) => JwtClaims;
}

function keyVerifier(key: string | Buffer, alg: VerificationKey['alg']): VerificationKey['verify'] {
  return createVerifier({
    key, algorithms: [alg],
    // GoTrue's tokens carry no nbf, and the stack never checked one: unchanged behaviour.
    ignoreNotBefore: true,
  }) as (token: string) => JwtClaims;
}

/** How many verified tokens the verifier remembers; cleared when full. */
const CACHE_SIZE = 10_000;

/**
 * The stack's one token verifier (Auth, gateway and Realtime share one instance, so one cache):
 * the strict shape and key choice here, the cryptography and `exp` by fast-jwt (see the module doc).
 * Synchronous on purpose: the gateway and Realtime check tokens on hot paths without awaiting.
 * Clients send the same few tokens on every request, so verified tokens are remembered until their
 * `exp` (a Map lookup; fast-jwt's own cache hashes every token: ~30 µs more per gateway request here).
 */
export class JwtVerifier {
  private readonly keys: VerificationKey[];
  private readonly verified = new Map<string, JwtClaims>();

  constructor(jwtSecret: string, signingKeys: readonly SigningJwk[]) {
    this.keys = signingKeys.length > 0
      ? signingKeys.map((jwk) => {
        const pem = createPublicKey({ key: publicJwk(jwk) as unknown as import('node:crypto').JsonWebKey, format: 'jwk' })
          .export({ type: 'spki', format: 'pem' }).toString();
        return { alg: jwk.alg, kid: jwk.kid, verify: keyVerifier(pem, jwk.alg) };
      })
      : [{ alg: 'HS256', verify: keyVerifier(Buffer.from(jwtSecret), 'HS256') }];
  }

  check(token: string): JwtCheck {
    const remembered = this.verified.get(token);
    if (remembered) {
      if (remembered.exp === undefined || remembered.exp > Date.now() / 1000) return { ok: true, claims: remembered };
      this.verified.delete(token);
    }
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = jsonObject(headerPart);
    const claims = jsonObject(payloadPart) as JwtClaims | null;
    const signature = strictBase64url(signaturePart);
    if (!header || !claims || !signature) return { ok: false, reason: 'malformed' };
    const alg = header.alg;
    const kid = header.kid;
    // A key of the token's algorithm; with a kid, the key of that kid (HS256 also without one).
    const key = this.keys.find((k) => k.alg === alg && (kid === undefined ? k.kid === undefined || k.alg === 'HS256' : k.kid === kid));
    if (!key) return { ok: false, reason: 'unknown_key', claims };
    try {
      const verified = key.verify(token);
      if (this.verified.size >= CACHE_SIZE) this.verified.clear();
      this.verified.set(token, verified);
      return { ok: true, claims: verified };
    } catch (error) {
      const code = (error as { code?: string }).code;
      // A signature that verifies with an `exp` that is no number counts as expired, as before.
      const expired = code === TokenError.codes.expired
        || (code === TokenError.codes.invalidClaimType && claims.exp !== undefined && typeof claims.exp !== 'number');
      return { ok: false, reason: expired ? 'expired' : 'bad_signature', claims };
    }
  }

  verify(token: string): JwtClaims | null {
    const result = this.check(token);
    return result.ok ? result.claims : null;
  }
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else undefined. */
export const bearerToken = (authorization: string | undefined): string | undefined =>
  /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];

/** The verified claims, or null for anything that is not a valid, unexpired HS256 token. */
export function verifyJwt(token: string, secret: string): JwtClaims | null {
  return new JwtVerifier(secret, []).verify(token);
}
