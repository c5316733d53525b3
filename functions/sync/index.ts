import pkg from '../../package.json' with { type: 'json' };

Deno.serve((req) => {
  const url = new URL(req.url);
  if (req.method === 'GET' && (url.pathname === '/sync' || url.pathname === '/sync/')) {
    return Response.json({ name: 'haex-sync-server', version: pkg.version, status: 'ok', env: Deno.env.get('SYNC_ENV') ?? 'development' });
  }
  return Response.json({ error: { code: 'not_found', message: 'not found' } }, { status: 404 });
});
