/**
 * Errors of the embedded Storage, in Supabase Storage's shape (supabase/storage,
 * src/internal/errors/codes.ts and src/http/error-handler.ts):
 *
 *   body   { "statusCode": "<status as a string>", "code": "<ErrorCode>", "error": "<legacy name>", "message" }
 *   status 400 for every 4xx error whose status is not forced (Storage's `userStatusCode`), so a
 *          missing object answers HTTP 400 with `statusCode: "404"`, exactly as hosted Storage does;
 *          5xx stays 500; a few errors force their status (403 on a role the JWT may not use,
 *          413/415 never: they answer 400 like the rest).
 *
 * storage-js reads `statusCode` (falling back to the HTTP status) and `message`.
 */
export class StorageError extends Error {
  constructor(
    /** The status Storage puts in the body (`statusCode`). */
    readonly status: number,
    readonly code: string,
    /** Storage's legacy `error` field; its code when it has none. */
    readonly error: string,
    message: string,
    /** The HTTP status; Storage's default: 500 for 500, else 400. */
    readonly httpStatus = status >= 500 ? 500 : 400,
  ) {
    super(message);
  }

  toJSON() {
    return { statusCode: String(this.status), code: this.code, error: this.error, message: this.message };
  }
}

const make = (status: number, code: string, message: string, error = code, httpStatus?: number) =>
  new StorageError(status, code, error, message, httpStatus);

export const ERRORS = {
  noSuchBucket: () => make(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found'),
  noSuchKey: () => make(404, 'NoSuchKey', 'Object not found', 'not_found'),
  noSuchUpload: () => make(404, 'NoSuchUpload', 'Upload not found', 'NoSuchUpload'),
  bucketAlreadyExists: () => make(409, 'BucketAlreadyExists', 'The resource already exists', 'Duplicate'),
  keyAlreadyExists: () => make(409, 'KeyAlreadyExists', 'The resource already exists', 'Duplicate'),
  bucketNotEmpty: () => make(409, 'ResourceNotEmpty', 'The bucket you tried to delete is not empty'),
  invalidBucketName: () => make(400, 'InvalidBucketName', 'Bucket name invalid', 'Invalid Input'),
  invalidKey: (key: string) => make(400, 'InvalidKey', `Invalid key: ${key}`),
  invalidMimeType: (mime: string) => make(415, 'InvalidMimeType', `mime type ${mime} is not supported`, 'invalid_mime_type'),
  entityTooLarge: (entity = 'object', limit = 'the maximum allowed size') =>
    make(413, 'EntityTooLarge', `The ${entity} exceeded ${limit}`, 'Payload too large'),
  invalidFileSizeLimit: () => make(400, 'InvalidRequest', 'Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B'),
  missingParameter: (name: string) => make(400, 'MissingParameter', `Missing Required Parameter ${name}`),
  invalidParameter: (name: string, message?: string) => make(400, 'InvalidParameter', message ?? `Invalid Parameter ${name}`),
  invalidRequest: (message: string) => make(400, 'InvalidRequest', message),
  noContentProvided: () => make(400, 'InvalidRequest', 'No content provided'),
  invalidJwt: (message = 'Invalid JWT') => make(400, 'InvalidJWT', message),
  accessDenied: (message: string, httpStatus?: number) => make(403, 'AccessDenied', message, 'Unauthorized', httpStatus),
  /** RLS refused a write (Postgres 42501): Storage's `new row violates row-level security policy`. */
  rlsDenied: (message: string) => make(403, 'AccessDenied', message, 'Unauthorized'),
  invalidSignature: (message = 'Invalid signature') => make(400, 'InvalidSignature', message),
  expiredSignature: () => make(400, 'ExpiredToken', 'The provided token has expired.'),
  notFound: (message = 'not found') => make(404, 'NotFound', message, 'Not Found', 404),
  internal: (message = 'Internal Server Error') => make(500, 'InternalError', message, 'Internal'),
};

/** Maps a Postgres error raised under the caller's role to Storage's error. */
export function fromDatabaseError(error: unknown): StorageError | undefined {
  const code = (error as { code?: string } | null)?.code;
  const message = (error as { message?: string } | null)?.message ?? '';
  if (code === '42501') return ERRORS.rlsDenied(message);
  if (code === '23505') return ERRORS.keyAlreadyExists();
  if (code === '23503') return ERRORS.noSuchBucket();
  if (code === 'P0001' && /bucket name .* too long/.test(message)) return ERRORS.invalidBucketName();
  return undefined;
}
