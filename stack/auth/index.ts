/**
 * The embedded stack's stand-in for Supabase Auth (GoTrue), served in-process behind the gateway
 * at /auth/v1. It is held to GoTrue's contract: wire formats and error codes (routes.ts, admin-routes.ts,
 * errors.ts), tokens (tokens.ts), sessions and refresh rules (sessions.ts) and GoTrue's own tables
 * (users.ts; sql/bootstrap/auth.sql creates them). docs/auth.md describes what it serves and where
 * it differs.
 *
 * It talks to Postgres through its own small postgres.js pool as the superuser, as GoTrue does
 * through its privileged role: auth.* has RLS on and no policies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import postgres from 'postgres';
import type { AuthSettings } from '../config.ts';
import { serviceHandler } from '../http.ts';
import { JwtVerifier, publicJwk, type SigningJwk } from '../jwt.ts';
import { RateLimiter } from './rate-limit.ts';
import { createAuthApp, type AuthContext } from './routes.ts';
import type { TokenSettings } from './sessions.ts';

export interface AuthService {
  /** `path` is the request path after /auth/v1; `authorization` the header the gateway forwards. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, path: string, authorization: string | undefined): void;
  close(): Promise<void>;
}

export function tokenSettingsFor(settings: AuthSettings, jwtSecret: string, apiUrl: string,
  signingKeys: readonly SigningJwk[] = []): TokenSettings {
  return {
    jwtSecret,
    signingKeys,
    issuer: `${apiUrl}/auth/v1`,
    jwtExpirySeconds: settings.jwtExpirySeconds,
    refreshTokenRotation: settings.refreshTokenRotation,
    refreshTokenReuseIntervalSeconds: settings.refreshTokenReuseIntervalSeconds,
  };
}

export function createAuthService(options: {
  dbUrl: string; jwtSecret: string; signingKeys?: readonly SigningJwk[]; apiUrl: string; settings: AuthSettings;
  log: (line: string) => void;
  /** The stack's shared verifier (one cache for Auth, gateway and Realtime); one of its own if absent. */
  verifier?: JwtVerifier;
}): AuthService {
  // Auth's statements carry secrets as bind parameters (each new session's refresh-token HMAC key).
  // Its sessions never write parameter values to the server log, whatever statement or duration
  // logging someone turns on for the cluster (tests/sql-explain.test.ts sets log_statement = 'all'
  // for a moment on the shared test stack). Superuser-only settings: Auth connects as the superuser.
  // Strings: postgres.js leaves out startup parameters whose value is falsy (a number 0).
  const sql = postgres(options.dbUrl, {
    max: 8, onnotice: () => {},
    connection: { application_name: 'haex-sync auth', log_parameter_max_length: '0', log_parameter_max_length_on_error: '0' },
  });
  const ctx: AuthContext = {
    sql,
    tokens: tokenSettingsFor(options.settings, options.jwtSecret, options.apiUrl, options.signingKeys),
    verifier: options.verifier ?? new JwtVerifier(options.jwtSecret, options.signingKeys ?? []),
    jwks: { keys: (options.signingKeys ?? []).map(publicJwk) },
    minimumPasswordLength: options.settings.minimumPasswordLength,
    enableSignup: options.settings.enableSignup,
    enableConfirmations: options.settings.enableConfirmations,
    signInLimiter: new RateLimiter(options.settings.signInSignUpsPer5Min),
    refreshLimiter: new RateLimiter(options.settings.tokenRefreshesPer5Min),
    log: options.log,
  };
  const serve = serviceHandler(createAuthApp(ctx));
  return {
    handle: (req, res, url, path, authorization) => {
      // One access-log line per request: method, path without the query, status, time. Bodies and
      // headers (passwords, tokens) are never logged.
      const started = performance.now();
      res.once('finish', () => options.log(
        `${new Date().toISOString()} ${req.method} /auth/v1${path} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms`));
      serve(req, res, `${path}${url.search}`, authorization);
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
