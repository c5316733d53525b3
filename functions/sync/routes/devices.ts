/**
 * Devices and sessions (issue 19, docs/devices.md): the caller's Auth session is a device.
 *
 * Wire format (JSON, camelCase as the rest of the API):
 *   POST   /devices            { name?: string | null }  -> 200 { device }   registers this session (idempotent;
 *                                                                          a name renames it, null/absent keeps it)
 *   GET    /devices                                      -> 200 { devices: [device, ...] }   oldest first
 *   DELETE /devices/:deviceId                            -> 204   revokes one of the caller's devices (this one
 *                                                                 included); 404 not_found for any other id
 *     device = { id, name, createdAt, lastSeenAt, current, revokedAt }
 *
 * Limits: name 1..128 characters of well-formed Unicode without NUL, or null. After a revoke, every
 * request of the revoked session answers 401 `session_revoked` (the database decides, through
 * private.caller_id(), so the function adds no check of its own that could disagree).
 */
import { z } from 'zod';
import { jsonResponse } from '../../_shared/errors.ts';
import { body, db, jsonBody, one, requireUser, type SyncApp } from '../context.ts';
import { parse, uuidPathParam } from '../protocol.ts';

const MAX_NAME_CHARS = 128; // as public.register_device checks it

const registerBody = z.object({
  name: z.string().min(1, `must be 1 to ${MAX_NAME_CHARS} characters`).max(MAX_NAME_CHARS, `must be 1 to ${MAX_NAME_CHARS} characters`)
    .refine((value) => !value.includes('\u0000') && value.isWellFormed(), 'must be well-formed Unicode without NUL')
    .nullable().optional(),
}).strict();

export interface DeviceRow {
  id: string; name: string | null; created_at: string; last_seen_at: string; current: boolean; revoked_at: string | null;
}
export const deviceOut = (row: DeviceRow) => ({
  id: row.id, name: row.name, createdAt: row.created_at, lastSeenAt: row.last_seen_at, current: row.current,
  revokedAt: row.revoked_at,
});

export function registerDevices(app: SyncApp) {
  app.post('/devices', requireUser, jsonBody, async (c) => {
    const input = parse(registerBody, await body(c.req.raw));
    const rows = await db.rows<DeviceRow>(c.var.caller, 'register_device', { device_name: input.name ?? null });
    return jsonResponse({ device: deviceOut(one(rows)) });
  });

  app.get('/devices', requireUser, async (c) => {
    const rows = await db.rows<DeviceRow>(c.var.caller, 'list_devices', {});
    return jsonResponse({ devices: rows.map(deviceOut) });
  });

  app.delete('/devices/:deviceId', requireUser, async (c) => {
    const deviceId = uuidPathParam(c.req.param('deviceId'), 'deviceId');
    await db.value<null>(c.var.caller, 'revoke_device', { device_id: deviceId });
    return new Response(null, { status: 204 });
  });
}
