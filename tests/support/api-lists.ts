/**
 * The SQL API's contract as lists: what clients may reach (tables, functions) and what the catalog
 * audit allows (SECURITY DEFINER, no search_path, grants to authenticated). A new public name goes
 * here, and into the catalog-driven attack list of tests/devices-sql.test.ts (docs/schemas.md).
 * Read by tests/sql-security.test.ts (the attack matrix) and tests/sql-catalog-audit.test.ts.
 */

export const TABLES = ['vaults', 'vault_keys', 'sync_logs', 'devices', 'vault_members', 'identities', 'identity_private_keys', 'vault_key_grants',
  'vault_invitations', 'vault_invite_links', 'vault_files', 'vault_chain_links'] as const;
export const PUBLIC_FUNCTIONS = ['accept_invitation', 'append_chain_link', 'check_vault_quota', 'claim_invite_link', 'compact_logs', 'create_identity',
  'create_invite_link', 'create_vault', 'decline_invitation', 'delete_vault', 'find_identity', 'forget_file', 'get_identity', 'get_vault_key',
  'invite_member', 'leave_vault', 'list_chain_links', 'list_devices', 'list_invitations', 'list_key_grants', 'list_vault_members',
  'list_vault_usage', 'list_vaults', 'prepare_vault_deletion', 'pull_logs', 'pull_page', 'push_log_columns', 'push_logs', 'register_device', 'register_file', 'remove_member',
  'revoke_device', 'rotate_vault_key', 'set_member_role', 'store_own_grants', 'update_vault_key'];
/** Public functions for server code only (issue 26's quotas): executable by service_role alone, SECURITY INVOKER. */
export const SERVICE_ROLE_FUNCTIONS = ['set_default_vault_quota', 'set_vault_quota'];
/** The access helpers of shared vaults (read vault_members, whose policy calls them). */
export const ACCESS_HELPERS = ['private.can_receive_vault_topic', 'private.member_vault_ids', 'private.require_vault_role', 'private.vault_role'];
export const SECURITY_DEFINER = [...ACCESS_HELPERS, 'private.caller_id', 'private.check_request', 'private.forget_compacted_log_ids',
  'private.keep_vault_tombstone', 'private.can_write_vault_object', 'private.vault_file_bytes_and_quota', 'private.vault_object_fits_quota',
  ...PUBLIC_FUNCTIONS.filter((f) => !['get_identity', 'list_chain_links', 'list_key_grants', 'list_vault_usage', 'list_vaults', 'pull_logs'].includes(f))
    .map((f) => `public.${f}`)].sort();
/** Functions allowed without `set search_path = ''`: the inlinable hot path (pull_logs; log_wire, inlined into push_logs' insert). */
export const NO_SEARCH_PATH = ['private.log_wire', 'public.pull_logs'];
/** private functions `authenticated` may execute: what the SECURITY INVOKER pull_logs calls, and the Storage policies' name parser. */
export const PRIVATE_FOR_AUTHENTICATED = ['private.caller_id', 'private.check_request', 'private.limits', 'private.pull_compacted_through', 'private.pull_vault_state',
  'private.vault_of_object'];
/** Of those, the session check (issue 19): SECURITY DEFINER to read auth.sessions, answering only about the caller's own session. */
export const SESSION_CHECK = ['private.caller_id', 'private.check_request'];
/** Access helpers that policies and SECURITY INVOKER functions call: definer, read-only. */
export const HELPERS_FOR_AUTHENTICATED = ['private.can_receive_vault_topic', 'private.can_write_vault_object', 'private.member_vault_ids',
  'private.vault_file_bytes_and_quota', 'private.vault_object_fits_quota', 'private.vault_role'];
