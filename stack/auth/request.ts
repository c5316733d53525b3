/**
 * Reading a request to the embedded Auth service as GoTrue does, shared by the user routes
 * (routes.ts) and the admin routes (admin-routes.ts): the body (JSON, or form-encoded for /token, at
 * most 1 MiB), its typed fields, email validation, the bearer token's claims, and the JSON answer.
 */
import type { Context } from 'hono';
import type { ServiceEnv } from '../http.ts';
import { bearerToken, type JwtClaims } from '../jwt.ts';
import { AuthError, badRequest, forbidden, jsonResponse, validationFailed } from './errors.ts';
import type { AuthContext } from './routes.ts';

export type Body = Record<string, unknown>;
/** `c.env.authorization`: what the gateway forwards (it maps API keys to JWTs), not the raw header. */
export type AuthEnv = ServiceEnv;
/** One request to the Auth service. */
export type Call = Context<AuthEnv>;
const MAX_BODY_BYTES = 1 << 20;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// GoTrue validates with checkmail's format rule: a local part, @, and a domain with a dot-free-or-dotted host.
const EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/**
 * GoTrue's retrieveRequestParams: the body must be JSON, an empty one included ("unexpected end of
 * JSON input"), except where GoTrue reads it only when present (`optional`: DELETE /admin/users/ID).
 */
export async function readBody(c: Call, optional = false): Promise<Body> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = c.req.raw.body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    const chunk = read.value;
    size += chunk.length;
    // GoTrue's limitRequestBody (http.MaxBytesReader, 1 MiB).
    if (size > MAX_BODY_BYTES) {
      await reader!.cancel();
      throw new AuthError(413, 'request_entity_too_large', `Request body too large (max ${MAX_BODY_BYTES} bytes)`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (optional && text === '') return {};
  if (text.trim() === '') throw badRequest('bad_json', 'Could not parse request body as JSON: unexpected end of JSON input');
  if ((c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw badRequest('bad_json', `Could not parse request body as JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('bad_json', 'Could not parse request body as JSON: expected an object');
  }
  return parsed as Body;
}

export function stringField(body: Body, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest('bad_json', `Could not parse request body as JSON: ${name} must be a string`);
  return value;
}

export function objectField(body: Body, name: string): Body | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('bad_json', `Could not parse request body as JSON: ${name} must be an object`);
  }
  return value as Body;
}

/** GoTrue's validateEmail. */
export function validEmail(raw: string | undefined): string {
  if (!raw) throw validationFailed('An email address is required');
  if (raw.length > 255) throw validationFailed('An email address is too long');
  if (!EMAIL.test(raw)) throw validationFailed('Unable to validate email address: invalid format');
  return raw.toLowerCase();
}

export function bearerClaims(c: Call, ctx: AuthContext): JwtClaims {
  const token = bearerToken(c.env.authorization);
  if (!token) throw new AuthError(401, 'no_authorization', 'This endpoint requires a valid Bearer token');
  const claims = ctx.verifier.verify(token);
  if (!claims) throw forbidden('bad_jwt', 'invalid JWT: unable to parse or verify signature, token is malformed, has an invalid signature or is expired');
  return claims;
}

export const respond = (c: Call, status: number, body: unknown, headers?: Record<string, string>) =>
  jsonResponse(c.req.raw, status, body, headers);
