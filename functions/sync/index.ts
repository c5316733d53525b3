/**
 * Edge Function `sync`: the HTTP API of haex-sync (see protocol.ts and docs/http-api.md), a Hono
 * app (routes.ts) whose user routes verify tokens with `@supabase/server` and `jose`
 * (../_shared/auth.ts). config.toml sets `verify_jwt = false`: the function verifies every user
 * route itself.
 */
import { app } from './routes.ts';

export const handler = (request: Request): Response | Promise<Response> => app.fetch(request);

if (import.meta.main) Deno.serve(handler);
