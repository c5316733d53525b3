/**
 * W1 and W2 on vaults with five members (issue 18 item 7), next to the private vault's figures of
 * the same run: the goal is at most 10 % slower (ratio >= 0.9 of the private figure per target).
 *
 *   W1 push, 5 members: the W1 clients, each pushing to its own vault, which has four more members
 *                       (writers), so push_logs' role checks read a real member list.
 *   W2 pull, 5 members: the W2 vault read by a member who is not its owner (a reader), so every page
 *                       goes through the member policy (private.member_vault_ids) instead of the owner's.
 * Members are inserted by the superuser, as the other setup helpers do: never the API under test.
 */
import type postgres from 'postgres';
import { ensureUser } from '../stack/users.ts';
import { throughputRow, type ResultRow } from './stats.ts';
import type { Session, Target } from './targets.ts';
import { fillVaultSql, newSession, resetLogs, runPull, runPush, type UserFactory } from './workloads.ts';

const OTHER_MEMBERS = 4;

async function addMembers(sql: postgres.Sql, users: UserFactory, vaultId: string, label: string, role: string): Promise<Session[]> {
  const members: Session[] = [];
  for (let i = 0; i < OTHER_MEMBERS; i++) {
    const user = await ensureUser(users.dbUrl, `bench-${label}-m${i}-${vaultId.slice(0, 8)}@bench.local`,
      { jwtSecret: users.jwtSecret, apiUrl: users.apiUrl, expiresInSeconds: 3600 });
    await sql`insert into public.vault_members (vault_id, user_id, role) values (${vaultId}, ${user.id}, ${role})`;
    members.push({ userId: user.id, token: user.access_token, vaultId });
  }
  return members;
}

export interface SharedKnobs { clients: number; batch: number; warmupSeconds: number; seconds: number; w2Logs: number; w2Runs: number }

/** Runs both workloads on every target but the floor; `privateOf` gives the private vault's figure of this run. */
export async function runSharedVault(sql: postgres.Sql, users: UserFactory, targets: Target[], knobs: SharedKnobs,
  privateOf: (workload: string, target: string) => number | null, progress: (line: string) => void): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const apiTargets = targets.filter((t) => t.name !== 'sql-floor');
  const sessions: Session[] = [];
  for (let i = 0; i < knobs.clients; i++) {
    const session = await newSession(sql, users, `w1s-${i}`);
    await addMembers(sql, users, session.vaultId, `w1s-${i}`, 'writer');
    sessions.push(session);
  }
  for (const target of apiTargets) {
    await resetLogs(sql, sessions);
    progress(`W1 push, 5 members, on ${target.name}`);
    try {
      const res = await runPush(target, sessions, knobs);
      rows.push(throughputRow('W1 push, 5 members', target.name, Math.round(res.logsPerSecond), privateOf('W1 push', target.name), 0.9,
        { errors: res.errors }, 'ratio = this / the private vault\'s W1 on the same target'));
    } catch (error) {
      rows.push(throughputRow('W1 push, 5 members', target.name, null, null, 0.9, undefined, `failed: ${(error as Error).message.slice(0, 160)}`));
    }
  }
  await resetLogs(sql, sessions);

  const owner = await newSession(sql, users, 'w2s');
  const [reader] = await addMembers(sql, users, owner.vaultId, 'w2s', 'reader');
  await fillVaultSql(sql, owner, knobs.w2Logs);
  for (const target of apiTargets) {
    progress(`W2 pull, 5 members (by a reader), on ${target.name}`);
    try {
      const res = await runPull(target, reader!, { expected: knobs.w2Logs, page: 1000, runs: knobs.w2Runs });
      rows.push(throughputRow('W2 pull, 5 members', target.name, Math.round(res.logsPerSecond), privateOf('W2 pull', target.name), 0.9,
        { runs: res.runs.map((v) => Math.round(v)).join('/') }, 'ratio = this / the private vault\'s W2 on the same target'));
    } catch (error) {
      rows.push(throughputRow('W2 pull, 5 members', target.name, null, null, 0.9, undefined, `failed: ${(error as Error).message.slice(0, 160)}`));
    }
  }
  return rows;
}
