/**
 * "Is this broker still listed?" — asked on every push (presence can outlive a crashed broker
 * until its TTL runs out). Discovery hands out the same snapshot array until the list changes, so
 * the id set is built once per snapshot rather than once per call.
 */
import type { BrokerInfo, Discovery } from './index.ts'

const idsBySnapshot = new WeakMap<readonly BrokerInfo[], ReadonlySet<string>>()

/** Ids of the brokers discovery lists now. */
export function listedBrokerIds(discovery: Discovery): ReadonlySet<string> {
  const snapshot = discovery.brokers()
  let ids = idsBySnapshot.get(snapshot)
  if (!ids) idsBySnapshot.set(snapshot, (ids = new Set(snapshot.map((b) => b.id))))
  return ids
}

export function isListed(discovery: Discovery, brokerId: string): boolean {
  return listedBrokerIds(discovery).has(brokerId)
}
