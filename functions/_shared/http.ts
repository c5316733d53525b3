/**
 * Request bodies: content type check (415), size cap before parsing (413: by Content-Length, then by
 * counting while reading, for chunked or lying clients), strict UTF-8 and JSON parsing (400).
 */
import { HttpError } from './errors.ts';

export function requireJson(request: Request): void {
  const type = request.headers.get('content-type');
  const mediaType = type === null ? undefined : type.split(';', 1)[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
}

const tooLarge = (max: number) =>
  new HttpError(413, 'payload_too_large', `request body must be at most ${max} bytes`, { maxBytes: max });

export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Reads and parses a JSON body: 415, 413, or 400 `invalid_json`. */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  requireJson(request);
  const bytes = await readBody(request, maxBytes);
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
