// The write of a group-commit batch of new commands, with the claims of their idempotency keys
// in the same transaction: a key is never stored without its command or vice versa. A request
// whose key is taken gets the key's command (same input) or a conflict (another input).
import type { EventBus } from '../events/bus.ts';
import * as store from '../storage/command-store.ts';
import type { Db } from '../storage/db.ts';
import * as keys from '../storage/idempotency-store.ts';
import type { Command } from './types.ts';
import { commandsCreatedAudit } from './audit-entries.ts';
import { recordAudit } from './audit.ts';

/** A new command, with the idempotency key that names it, if any. */
export type NewCommand = store.NewCommand & { claim?: keys.Claim };

export type Inserted = Command | { conflictKey: string };

/** `created` receives the commands this batch wrote (not the ones a key replays). */
export async function insertWithClaims(tx: Db, bus: EventBus, list: NewCommand[], created: Command[] = []): Promise<Inserted[]> {
  // A key used twice in one batch: the first use claims it, the others compare with it.
  const firstUse = new Map<string, number>();
  list.forEach((c, i) => c.claim && !firstUse.has(keys.claimId(c.claim)) && firstUse.set(keys.claimId(c.claim), i));
  const taken = await keys.claimKeys(tx, [...firstUse.values()].map((i) => list[i]!.claim!));
  const creates = list.flatMap((c, i) =>
    !c.claim || (firstUse.get(keys.claimId(c.claim)) === i && !taken.has(keys.claimId(c.claim))) ? [i] : [],
  );
  const inserted = await store.insertCommands(tx, creates.map((i) => list[i]!));
  created.push(...inserted);
  const out = new Map(creates.map((i, n) => [i, inserted[n]!]));
  // Sent together, without waiting for each other: the keys' links and the audit rows cost no
  // extra round trip (postgres.js pipelines them on the transaction's connection).
  await Promise.all([
    ...[...out].flatMap(([i, command]) => (list[i]!.claim ? [keys.attachCommand(tx, list[i]!.claim!, command.id)] : [])),
    recordAudit(tx, commandsCreatedAudit(creates.map((i) => list[i]!), inserted)),
    bus.publishMany(tx, 'commandChanged', inserted),
  ]);
  return Promise.all(
    list.map(async (c, i) => {
      const own = out.get(i);
      if (own) return own;
      const id = keys.claimId(c.claim!);
      const first = firstUse.get(id)!;
      const prior = taken.get(id) ?? { requestHash: list[first]!.claim!.requestHash, commandId: out.get(first)?.id ?? null };
      if (prior.requestHash !== c.claim!.requestHash || prior.commandId === null) return { conflictKey: c.claim!.key };
      return (await store.findCommand(tx, prior.commandId))!;
    }),
  );
}
