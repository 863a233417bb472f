/**
 * Builds the whole adapter set from configuration. Memory unless Redis / ZooKeeper are configured;
 * `broker/` and `route/` receive this object and never import a client library themselves.
 */
import type { Accounts } from './accounts/index.ts'
import type { Presence } from './presence/index.ts'
import type { Discovery } from './discovery/index.ts'
import type { Bus } from './bus/index.ts'
import type { Inbox } from './inbox/index.ts'
import type { MqttBackendFactory } from './mqtt/index.ts'
import { MemoryAccounts } from './accounts/memory.ts'
import { MemoryPresence } from './presence/memory.ts'
import { MemoryDiscovery } from './discovery/memory.ts'
import { MemoryBus } from './bus/memory.ts'
import { MemoryInbox } from './inbox/memory.ts'
import { memoryMqttBackend } from './mqtt/memory.ts'

export interface Adapters {
  accounts: Accounts
  presence: Presence
  discovery: Discovery
  bus: Bus
  inbox: Inbox
  mqtt: MqttBackendFactory
  /** Closes every adapter (connections to Redis / ZooKeeper). */
  close(): Promise<void>
}

export interface AdapterOptions {
  /** Per-user inbox cap. Default 1000. */
  inboxMaxPerUser?: number
}

/** The single-process set: everything in memory, nothing external. */
export function createMemoryAdapters(opts: AdapterOptions = {}): Adapters {
  const accounts = new MemoryAccounts()
  const presence = new MemoryPresence()
  const discovery = new MemoryDiscovery()
  const bus = new MemoryBus()
  const inbox = new MemoryInbox({ maxPerUser: opts.inboxMaxPerUser ?? 1000 })
  // One in-process mq and persistence shared by every aedes instance of this process, so several
  // brokers built in one process (tests) see each other's retained messages and publishes.
  // aedes closes its mq when it closes; the shared one must outlive any single broker, so each
  // broker gets a view whose close() does nothing and adapters.close() ends the real one.
  const backend = memoryMqttBackend()
  const mq = backend.mq as { close(cb?: () => void): void }
  const sharedMq = new Proxy(mq, {
    get(target, prop) {
      if (prop === 'close') return (cb?: () => void) => cb?.()
      const v = Reflect.get(target, prop) as unknown
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return {
    accounts, presence, discovery, bus, inbox,
    mqtt: () => ({ mq: sharedMq, persistence: backend.persistence }),
    async close() {
      await Promise.all([accounts.close(), presence.close(), discovery.close(), bus.close(), inbox.close()])
      await new Promise<void>((resolve) => mq.close(() => resolve()))
    },
  }
}

export type { Accounts, Presence, Discovery, Bus, Inbox }
