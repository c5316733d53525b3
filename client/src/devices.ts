/**
 * Devices and sessions (issue 19, docs/devices.md). A device is one signed-in Supabase Auth session
 * that uses haex-sync; the server registers it, lists it and revokes it.
 *
 *   client.device                  { id, name } of this session, after the client's first server call
 *   await client.devices()         [{ id, name, createdAt, lastSeenAt, current, revokedAt }], oldest first
 *   await client.revokeDevice(id)  any of the user's devices, this one included
 *
 * Invariants: the client registers its session once, on first use (with `deviceName`, if given),
 * before any log is encrypted; every log it encrypts carries the registered device's id as deviceId
 * (authenticated in the log's AAD), which is the id the server stores as the log's device_id, so the
 * server's attribution and the log's authentication agree. A revoked (or signed-out) session gets
 * SessionRevokedError from every call; it never recovers (sign in again: a new session, a new device).
 */
import { UsageError } from './errors.ts';
import { type RetryPolicy, withRetry } from './retry.ts';

export interface DeviceInfo {
  id: string;
  /** Chosen by the app (`deviceName`); the server stores and shows it. */
  name: string | null;
  createdAt: string;
  /** Last push or registration, at a resolution of a minute. */
  lastSeenAt: string;
  /** This client's own session. */
  current: boolean;
  /** When the device was revoked or its session was seen signed out; null while it may sync. */
  revokedAt: string | null;
}

/** What a transport offers for devices (both built-in transports do; custom ones may not). */
export interface DeviceTransport {
  registerDevice(name: string | null): Promise<DeviceInfo>;
  listDevices(): Promise<DeviceInfo[]>;
  revokeDevice(deviceId: string): Promise<void>;
}

export const hasDevices = (transport: object): transport is DeviceTransport =>
  typeof (transport as Partial<DeviceTransport>).registerDevice === 'function'
  && typeof (transport as Partial<DeviceTransport>).listDevices === 'function'
  && typeof (transport as Partial<DeviceTransport>).revokeDevice === 'function';

export const MAX_DEVICE_NAME_CHARS = 128;

/** The client's registration: one register call per client (repeated only after a failure). */
export class DeviceRegistry {
  #registering: Promise<DeviceInfo> | undefined;
  #device: { id: string; name: string | null } | undefined;

  constructor(private readonly transport: DeviceTransport, private readonly name: string | null,
    private readonly retry: RetryPolicy) {
    if (name !== null && (typeof name !== 'string' || name.length < 1 || name.length > MAX_DEVICE_NAME_CHARS)) {
      throw new UsageError(`deviceName must be 1 to ${MAX_DEVICE_NAME_CHARS} characters`);
    }
  }

  /** { id, name } of this session once registered. */
  get current(): { id: string; name: string | null } | undefined { return this.#device; }

  /** Registers this session (once); its device. */
  ensure(): Promise<DeviceInfo> {
    this.#registering ??= withRetry(() => this.transport.registerDevice(this.name), this.retry).then((device) => {
      this.#device = { id: device.id, name: device.name };
      return device;
    }, (error: unknown) => {
      this.#registering = undefined; // a later call tries again (SessionRevokedError stays final at the server)
      throw error;
    });
    return this.#registering;
  }

  async list(): Promise<DeviceInfo[]> {
    await this.ensure();
    return withRetry(() => this.transport.listDevices(), this.retry);
  }

  async revoke(deviceId: string): Promise<void> {
    if (typeof deviceId !== 'string' || deviceId === '') throw new UsageError('deviceId must be a device id');
    await this.ensure();
    await this.transport.revokeDevice(deviceId);
  }
}

