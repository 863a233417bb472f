/**
 * What aedes needs from the cluster: its `mq` (publish/subscribe between broker nodes) and its
 * `persistence` (retained messages, sessions, QoS 1/2 queues). Each call makes a fresh pair for
 * one aedes instance.
 */
export interface MqttBackend {
  /** An MQEmitter instance (mqemitter, mqemitter-redis). */
  mq: unknown
  /** An aedes persistence instance (aedes-persistence, aedes-persistence-redis). */
  persistence: unknown
  /** The tally behind the retained-message caps, shared as widely as `persistence` is. */
  retained: RetainedLedger
}

/** Caps on retained messages (retainedMaxCount, retainedMaxBytes; README "Limits"). */
export interface RetainedCaps { maxCount: number; maxBytes: number }

/** The cap a retained message would pass. */
export type RetainedRefusal = 'count' | 'bytes'

/**
 * How many retained messages there are and how many payload bytes they hold, so the caps can be
 * checked without scanning the store. It counts what went through `admit`: messages retained
 * before it existed (an upgrade) are not counted, and a store that fails after `admit` leaves its
 * size counted until the topic is retained again or cleared (docs: an approximate, safe-side tally).
 */
export interface RetainedLedger {
  /**
   * Records `bytes` as what `topic` retains (0: the topic is cleared, always admitted) when the
   * caps allow it; otherwise records nothing and answers the cap it would pass.
   */
  admit(topic: string, bytes: number, caps: RetainedCaps): Promise<RetainedRefusal | undefined>
  /** The tally as it stands (the broker's /metrics reads it at scrape time): topics and payload bytes. */
  tally(): Promise<{ count: number; bytes: number }>
}

export type MqttBackendFactory = () => MqttBackend
