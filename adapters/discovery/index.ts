/** Live brokers. Brokers register themselves; routes read the list to pick one at login. */
export interface BrokerInfo {
  /** Stable node id, unique in the cluster. */
  id: string
  /** Address clients connect to. Never a loopback alias by accident (see config.advertiseHost). */
  host: string
  cimPort: number
  httpPort: number
  mqttPort: number
  wsPort: number
  /** The TLS listeners' ports, when the broker has a certificate (docs/security.md, TLS). */
  cimTlsPort?: number
  mqttsPort?: number
  wssPort?: number
  /** Live connections (CIM + MQTT), refreshed by the broker every few seconds. */
  connections: number
  /** A draining broker takes no new logins. */
  draining: boolean
  startedAt: number
}

/** One broker's entry, held by that broker. */
export interface Registration {
  update(patch: Partial<Pick<BrokerInfo, 'connections' | 'draining'>>): Promise<void>
  /** Removes the entry; the broker calls it first on shutdown. */
  deregister(): Promise<void>
}

export interface Discovery {
  register(info: BrokerInfo): Promise<Registration>
  /** The live brokers as last seen (a cached snapshot; never blocks). */
  brokers(): BrokerInfo[]
  /**
   * Whether `brokerId` is in the list now. Asked on every push and presence read (an entry can
   * outlive its crashed broker until its TTL runs out), so it answers from a set built once per
   * snapshot, never blocks, and follows every change of the list.
   */
  isListed(brokerId: string): boolean
  /** Calls `listener` with the new list whenever it changes. Returns an unsubscribe function. */
  onChange(listener: (brokers: BrokerInfo[]) => void): () => void
  close(): Promise<void>
}
