// test/interop room (groups): shared harness for consumer-group interop tests — long-running member
// processes that print JSON lines, the broker-side record of every stable generation, and the
// checks (at-least-once coverage, one owner per partition per generation).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { repoRoot } from '../common.js';

/** What every group member program prints, one JSON object per line. */
export type MemberEvent =
  | { ev: 'assigned'; memberId: string; generation: number; partitions: number[] }
  | { ev: 'revoked'; partitions: number[] }
  | { ev: 'rec'; p: number; o: number }
  | { ev: 'error'; message: string };

export interface MemberProcess {
  readonly name: string;
  readonly events: MemberEvent[];
  readonly stderr: string[];
  readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM: the program closes its consumer (LeaveGroup, final commit) and exits. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL: no LeaveGroup, no commit; the broker must notice through the session timeout. */
  kill(): Promise<void>;
}

/** Starts a member program; every stdout line that parses as JSON becomes an event. */
export function startMember(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): MemberProcess {
  const proc = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const events: MemberEvent[] = [];
  const stderr: string[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const s = line.trim();
    if (!s.startsWith('{')) return;
    try {
      events.push(JSON.parse(s) as MemberEvent);
    } catch {
      stderr.push(`unparsable stdout line: ${s.slice(0, 200)}`);
    }
  });
  createInterface({ input: proc.stderr }).on('line', (line) => {
    if (stderr.length < 200) stderr.push(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => (done = true));
  const hardLimit = setTimeout(() => proc.kill('SIGKILL'), 600_000);
  hardLimit.unref();
  return {
    name,
    events,
    stderr,
    proc,
    exited,
    async stop(timeoutMs = 30_000) {
      if (done) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (done) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 100 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(100);
  }
  return cond();
}

/** A stable generation as the broker recorded it, assignments decoded to partitions of one topic. */
export interface RecordedGeneration {
  generationId: number;
  protocolName: string | null;
  rebalanceMs: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; partitions: number[] }>;
}

/** Partitions owned by two members of the same generation (must be empty). */
export function doubleOwnership(generations: RecordedGeneration[]): string[] {
  const problems: string[] = [];
  for (const g of generations) {
    const owner = new Map<number, string>();
    for (const m of g.members) {
      for (const p of m.partitions) {
        const other = owner.get(p);
        if (other !== undefined) problems.push(`generation ${g.generationId}: partition ${p} owned by ${other} and ${m.memberId}`);
        owner.set(p, m.memberId);
      }
    }
  }
  return problems;
}

/**
 * Client-side view: each member logs the partitions it holds after every assignment (cumulative
 * for cooperative protocols). With a generation in the log we check that two members never hold
 * the same partition in one generation; without one (KafkaJS), that the holdings match what the
 * broker assigned that member id in some generation.
 */
export function clientOwnershipProblems(members: MemberProcess[], generations: RecordedGeneration[], topicPartitions: number): string[] {
  const problems: string[] = [];
  const byGeneration = new Map<number, Map<number, string>>();
  const brokerAssigned = new Map<string, Set<string>>();
  for (const g of generations) {
    for (const m of g.members) {
      const set = brokerAssigned.get(m.memberId) ?? new Set<string>();
      set.add(JSON.stringify([...m.partitions].sort((a, b) => a - b)));
      brokerAssigned.set(m.memberId, set);
    }
  }
  for (const member of members) {
    for (const e of member.events) {
      if (e.ev !== 'assigned') continue;
      for (const p of e.partitions) {
        if (p < 0 || p >= topicPartitions) problems.push(`${member.name}: assigned unknown partition ${p}`);
      }
      if (e.generation >= 0) {
        const owners = byGeneration.get(e.generation) ?? new Map<number, string>();
        for (const p of e.partitions) {
          const other = owners.get(p);
          if (other !== undefined && other !== e.memberId) problems.push(`generation ${e.generation}: ${member.name} and ${other} both hold partition ${p}`);
          owners.set(p, e.memberId);
        }
        byGeneration.set(e.generation, owners);
      } else {
        const key = JSON.stringify([...e.partitions].sort((a, b) => a - b));
        if (!(brokerAssigned.get(e.memberId)?.has(key) ?? false)) {
          problems.push(`${member.name} (${e.memberId}) held ${key}, which the broker never assigned it`);
        }
      }
    }
  }
  return problems;
}

/** (partition, offset) pairs below `endOffsets[p]` that no member consumed. */
export function missingRecords(members: MemberProcess[], endOffsets: number[]): string[] {
  const seen = endOffsets.map(() => new Set<number>());
  for (const m of members) for (const e of m.events) if (e.ev === 'rec' && e.p >= 0 && e.p < seen.length) seen[e.p].add(e.o);
  const problems: string[] = [];
  endOffsets.forEach((end, p) => {
    let missing = 0;
    let first = -1;
    for (let o = 0; o < end; o++) {
      if (!seen[p].has(o)) {
        missing++;
        if (first < 0) first = o;
      }
    }
    if (missing > 0) problems.push(`partition ${p}: ${missing} of ${end} records never consumed (first offset ${first})`);
  });
  return problems;
}

export function consumedCount(members: MemberProcess[]): number {
  const seen = new Set<string>();
  for (const m of members) for (const e of m.events) if (e.ev === 'rec') seen.add(`${e.p}:${e.o}`);
  return seen.size;
}
