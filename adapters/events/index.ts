/**
 * The webhook's pending queue (README "Events to your backend"): events wait here between the
 * moment a node emits them and the moment the backend answers 2xx. Memory for one node (bounded,
 * lost with the process); Redis for a cluster (durable, shared: a node that dies with events
 * pending leaves them to another node).
 *
 * The log is cut into `partitions`; the webhook puts every event of one source (a device, a user)
 * in the same partition, and each partition is worked by one node at a time under a lease, batch
 * after batch, so a source's events reach the backend in order even across a failover.
 */

/** Partitions of the webhook log: every node of a cluster must agree, so it is not a setting. */
export const EVENT_LOG_PARTITIONS = 16

export interface LogEntry {
  /** Position in its partition; ids only grow. */
  id: string
  /** The event's JSON. */
  data: string
}

export interface DeadLetter {
  /** The event's JSON. */
  data: string
  /** Why it was given up (the last delivery error). */
  reason: string
  /** When, ms since the epoch. */
  at: number
}

export interface EventLog {
  readonly partitions: number
  /** True when the log outlives the process (Redis): closing a node need not deliver what is left. */
  readonly durable: boolean
  /**
   * Appends events (JSON) to a partition, in order, all or none. Resolves with how many were
   * taken: fewer than given when a bounded log is full (the rest are the caller's to count as dropped).
   * Fails with CIM_BACKEND_UNAVAILABLE when the store cannot be reached.
   */
  append(partition: number, entries: readonly string[]): Promise<number>
  /** The id of the last delivered entry of a partition (`0-0` when none). */
  cursor(partition: number): Promise<string>
  /** Up to `count` entries after `after`, oldest first, and how many entries the partition holds undelivered. */
  read(partition: number, after: string, count: number): Promise<{ entries: LogEntry[]; depth: number }>
  /** Takes or renews the partition's lease for `owner`; false when another owner holds it. */
  acquire(partition: number, owner: string, ttlMs: number): Promise<boolean>
  /** Gives the lease up (if `owner` holds it), so another node takes the partition at once. */
  release(partition: number, owner: string): Promise<void>
  /**
   * Records entries up to `throughId` as delivered and forgets them; false (nothing done) when
   * `owner` no longer holds the lease.
   */
  ack(partition: number, owner: string, throughId: string): Promise<boolean>
  /** Keeps events given up after the last attempt (bounded: the oldest go first). */
  deadLetter(entries: readonly string[], reason: string): Promise<void>
  /** The newest dead letters, newest first. */
  readDeadLetters(count: number): Promise<DeadLetter[]>
  close(): Promise<void>
}

/** Dead letters kept, about (Redis trims approximately). */
export const DEAD_LETTERS_KEPT = 10_000

/**
 * Appends to a Redis stream that the backend consumes itself (README "Events to your backend",
 * Redis stream). Only the Redis adapter set has one.
 */
export interface EventStreamWriter {
  /** XADD each entry (a flat field/value list) to `key`, capped at about `maxLen` entries. */
  append(key: string, maxLen: number, entries: ReadonlyArray<readonly string[]>): Promise<void>
  close(): Promise<void>
}
