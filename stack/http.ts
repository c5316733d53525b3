/**
 * How the gateway hands a request to a service it serves in-process (Auth, Realtime's HTTP API):
 * each service is a Hono app, served on the gateway's Node request through @hono/node-server.
 * The app sees the path below the service's prefix, and the Authorization the gateway decided on
 * (API keys mapped to JWTs, see gateway.ts) as the binding `authorization`: node-server builds the
 * Request from the raw headers, so rewriting `req.headers` would not reach the app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import type { Hono } from 'hono';

export type ServiceEnv = { Bindings: HttpBindings & { authorization: string | undefined } };

export type ServiceHandler = (req: IncomingMessage, res: ServerResponse, pathAndQuery: string,
  authorization: string | undefined) => void;

export function serviceHandler(app: Hono<ServiceEnv>): ServiceHandler {
  const authorizations = new WeakMap<IncomingMessage, string | undefined>();
  const listener = getRequestListener((request, env) => {
    const { incoming, outgoing } = env as HttpBindings;
    return app.fetch(request, { incoming, outgoing, authorization: authorizations.get(incoming) });
  }, { hostname: 'gateway' });
  return (req, res, pathAndQuery, authorization) => {
    req.url = pathAndQuery;
    authorizations.set(req, authorization);
    void listener(req, res);
  };
}
