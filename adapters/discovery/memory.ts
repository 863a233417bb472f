import type { BrokerInfo, Discovery, Registration } from './index.ts'

/** In-process registry: every broker built in this process registers here. */
export class MemoryDiscovery implements Discovery {
  private readonly nodes = new Map<string, BrokerInfo>()
  private readonly listeners = new Set<(brokers: BrokerInfo[]) => void>()
  private snapshot: BrokerInfo[] = []
  /** Ids of `snapshot`, built at the first isListed() after a change. */
  private listedIds: ReadonlySet<string> | undefined

  private changed(): void {
    this.snapshot = [...this.nodes.values()].map((b) => ({ ...b }))
    this.listedIds = undefined
    for (const l of this.listeners) l(this.snapshot)
  }

  async register(info: BrokerInfo): Promise<Registration> {
    this.nodes.set(info.id, { ...info })
    this.changed()
    return {
      update: async (patch) => {
        const cur = this.nodes.get(info.id)
        if (!cur) return
        Object.assign(cur, patch)
        this.changed()
      },
      deregister: async () => {
        if (this.nodes.delete(info.id)) this.changed()
      },
    }
  }

  brokers(): BrokerInfo[] {
    return this.snapshot
  }

  isListed(brokerId: string): boolean {
    return (this.listedIds ??= new Set(this.snapshot.map((b) => b.id))).has(brokerId)
  }

  onChange(listener: (brokers: BrokerInfo[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async close(): Promise<void> {
    this.listeners.clear()
  }
}
