/**
 * Request bodies: content type check (415), size cap before parsing (413, Hono's `bodyLimit`: by
 * Content-Length, then by counting while reading, for chunked or lying clients), strict UTF-8 and
 * JSON parsing (400). Hono's own `c.req.json()` would accept any content type, a BOM and invalid
 * UTF-8 (replaced silently), hence the strict decode here.
 */
import { bodyLimit } from 'hono/body-limit';
import { HttpError } from './errors.ts';

export function requireJson(request: Request): void {
  const type = request.headers.get('content-type');
  const mediaType = type === null ? undefined : type.split(';', 1)[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
}

export const tooLarge = (max: number) =>
  new HttpError(413, 'payload_too_large', `request body must be at most ${max} bytes`, { maxBytes: max });

/** The size cap as Hono middleware: 413 `payload_too_large` before the body is parsed. */
export const limitBody = (maxBytes: number) => bodyLimit({ maxSize: maxBytes, onError: () => { throw tooLarge(maxBytes); } });

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Reads and parses a JSON body (already size-capped by `limitBody`): 415, 413, or 400 `invalid_json`. */
export async function readJson(request: Request): Promise<unknown> {
  requireJson(request);
  const bytes = new Uint8Array(await request.arrayBuffer());
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'invalid_json', 'request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new HttpError(400, 'invalid_json', 'request body must be a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `request body is not valid JSON: ${(error as Error).message}`);
  }
}
