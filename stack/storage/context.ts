/** What every route of the embedded Storage shares: its dependencies, the caller, bounded JSON bodies. */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { JwtVerifier, TokenSigner } from '../jwt.ts';
import { requireCaller, type Caller } from './auth.ts';
import type { RequestScope, StorageDatabase } from './database.ts';
import { ERRORS } from './errors.ts';
import type { FileStore } from './files.ts';

export type StorageEnv = { Bindings: HttpBindings };
export type StorageContext = Context<StorageEnv>;

export interface StorageDeps {
  db: StorageDatabase;
  files: FileStore;
  verifier: JwtVerifier;
  signer: TokenSigner;
  /** `[storage] file_size_limit` of config.toml: no upload and no bucket limit may exceed it. */
  fileSizeLimit: number;
}

/** JSON bodies of the management routes are small; more than this is refused, never buffered. */
const MAX_JSON_BYTES = 1024 * 1024;

/**
 * The Authorization the gateway decided (it maps `sb_` keys to role JWTs, as the CLI's Kong): set on
 * the Node request's parsed headers, which Hono's request (built from the raw headers) does not see.
 */
const authorizationOf = (c: StorageContext) => c.env.incoming.headers.authorization;

export const callerOf = (deps: StorageDeps, c: StorageContext): Caller => requireCaller(deps.verifier, authorizationOf(c));

export function scopeOf(c: StorageContext, caller: Caller, operation: string): RequestScope {
  return { caller, operation, method: c.req.method, path: new URL(c.req.url).pathname };
}

/** The request's JSON object body ({} when empty); at most MAX_JSON_BYTES, else 413. */
export async function readJson(c: StorageContext): Promise<Record<string, unknown>> {
  const incoming = c.env.incoming;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) {
      incoming.destroy();
      throw ERRORS.entityTooLarge('request body');
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw ERRORS.invalidRequest('Body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw ERRORS.invalidRequest('body must be object');
  return value as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw ERRORS.invalidRequest(`body/${name} must be string`);
  return value;
}

export function requiredString(body: Record<string, unknown>, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined) throw ERRORS.invalidRequest(`body must have required property '${name}'`);
  return value;
}

export function optionalInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw ERRORS.invalidRequest(`${name} must be an integer between ${min} and ${max}`);
  }
  return number;
}

// Storage's key rules (src/storage/limits.ts): S3-safe characters; the hyphen is literal.
const VALID_OBJECT_KEY = /^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$/;
const VALID_BUCKET_NAME = /^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$/;

export function mustBeValidKey(key: string | undefined): asserts key is string {
  if (!key || !VALID_OBJECT_KEY.test(key)) throw ERRORS.invalidKey(key ?? '');
}

export function mustBeValidBucketName(name: string | undefined): asserts name is string {
  if (!name || name.length > 100 || !VALID_BUCKET_NAME.test(name) || name.trim() !== name) throw ERRORS.invalidBucketName();
}

/** Storage's parseFileSizeToBytes: a number of bytes, or "20GB" / "20MB" / "30KB" / "3B" (decimal units). */
export function parseFileSize(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw ERRORS.invalidFileSizeLimit();
    return Math.floor(value);
  }
  if (typeof value !== 'string') throw ERRORS.invalidFileSizeLimit();
  const match = /^([0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$/i.exec(value);
  if (!match) throw ERRORS.invalidFileSizeLimit();
  const amount = +parseFloat(match[1]!).toPrecision(3);
  const unit = { GB: 1e9, MB: 1e6, KB: 1e3, B: 1 }[match[2]!.toUpperCase() as 'GB' | 'MB' | 'KB' | 'B'];
  return Math.floor(amount * unit);
}

/** Storage's validateMimeType for a bucket's allowed_mime_types list. */
export function mustBeValidMimeTypes(types: unknown): string[] | null {
  if (types === null) return null;
  if (!Array.isArray(types) || types.some((type) => typeof type !== 'string')) {
    throw ERRORS.invalidRequest('body/allowed_mime_types must be array of strings');
  }
  const list = (types as string[]).filter((type) => type);
  for (const type of list) {
    if (type.length > 1000 || !/^([a-zA-Z0-9\-+.]+)\/([a-zA-Z0-9\-+.]+)(;\s*charset=[a-zA-Z0-9-]+)?$|\*$/.test(type)) {
      throw ERRORS.invalidMimeType(type);
    }
  }
  return list;
}

/** Storage's upload-time check of a content type against a bucket's allowed_mime_types. */
export function mustBeAllowedMimeType(mimeType: string, allowed: string[] | null | undefined) {
  if (!allowed || allowed.length === 0) return;
  // As Storage: the whole header split at '/', parameters included (so `text/plain;charset=utf-8`
  // matches `text/*` but not `text/plain`).
  const [type, subtype] = mimeType.split('/');
  if (!type || subtype === undefined) throw ERRORS.invalidMimeType(mimeType);
  for (const entry of allowed) {
    const [allowedType, allowedSubtype] = entry.split('/');
    if (allowedType === type && (allowedSubtype === '*' || allowedSubtype === subtype)) return;
  }
  throw ERRORS.invalidMimeType(mimeType);
}

export const isUuid = (value: string | undefined): value is string =>
  value !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
