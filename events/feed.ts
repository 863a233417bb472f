/**
 * The admin console's live feed across a cluster (README "Operations", admin console). Events
 * happen where the connections are, on brokers; the console is served by a route, maybe in
 * another process. So the feed rides the bus, but only while someone watches:
 * - a route with console viewers publishes a heartbeat on WATCH_CHANNEL every HEARTBEAT_MS;
 * - each broker's FeedRelay listens to its node's Events only while a heartbeat came in the last
 *   WATCH_TTL_MS, and publishes each event on FEED_CHANNEL, at most MAX_EVENTS_PER_SECOND per
 *   broker; what it leaves out it counts, and says so once a second (`{ type: 'dropped' }`).
 * With nobody watching a broker subscribes nothing to its Events and publishes nothing: the feed
 * costs nothing on the delivery path. The feed is a view for humans, at most once and lossy by
 * design; the webhook and the stream are the reliable ways out (README "Events to your backend").
 */
import { randomUUID } from 'node:crypto'
import type { Bus, BusMessage, Unsubscribe } from '../adapters/bus/index.ts'
import type { CimEvent, Events } from './index.ts'

export const FEED_CHANNEL = 'cim:events:feed'
export const WATCH_CHANNEL = 'cim:events:watch'
/** A broker relays while a heartbeat came within this long. */
export const WATCH_TTL_MS = 15_000
/** How often a route with viewers says so: well inside WATCH_TTL_MS, so one lost heartbeat stops nothing. */
export const HEARTBEAT_MS = 5_000
/** Per broker (and per route for its own node's events): the feed is for eyes, not for bulk. */
export const MAX_EVENTS_PER_SECOND = 1_000

/** What a feed carries to a viewer: an event, or how many events a node left out in the last second. */
export type FeedItem = { type: 'event'; event: CimEvent } | { type: 'dropped'; node: string; count: number }
/** On the bus, an item says which Events object it came from: a route skips its own process's. */
type BusFeedItem = FeedItem & { origin: string }

const origins = new WeakMap<Events, string>()
/** A random id per Events object (node names need not be unique: every unnamed broker is "broker"). */
function originOf(events: Events): string {
  let origin = origins.get(events)
  if (!origin) origins.set(events, (origin = randomUUID()))
  return origin
}

/** Counts events per one-second window; past the cap it refuses and counts the refusals. */
export class RateWindow {
  private windowStart = 0
  private passed = 0
  private dropped = 0

  constructor(private readonly perSecond: number, private readonly onDropped: (count: number) => void) {}

  /** True when this event may go; at a window change first reports what the last one dropped. */
  take(now = Date.now()): boolean {
    if (now - this.windowStart >= 1_000) {
      if (this.dropped > 0) this.onDropped(this.dropped)
      this.windowStart = now
      this.passed = 0
      this.dropped = 0
    }
    if (this.passed >= this.perSecond) {
      this.dropped++
      return false
    }
    this.passed++
    return true
  }

  /** Reports a pending dropped count now (when the feed stops, or on a timer). */
  flush(): void {
    if (this.dropped > 0) this.onDropped(this.dropped)
    this.dropped = 0
  }
}

/** Broker side: relays the node's events to the bus while some route watches. */
export class FeedRelay {
  private watchedUntil = 0
  private stopListening: (() => void) | undefined
  private unsubscribe: Unsubscribe | undefined
  private readonly rate: RateWindow

  private constructor(private readonly bus: Bus, private readonly events: Events) {
    this.rate = new RateWindow(MAX_EVENTS_PER_SECOND, (count) => this.send({ type: 'dropped', node: events.node, count }))
  }

  static async start(bus: Bus, events: Events): Promise<FeedRelay> {
    const relay = new FeedRelay(bus, events)
    relay.unsubscribe = await bus.subscribe(WATCH_CHANNEL, () => relay.watched())
    return relay
  }

  private watched(): void {
    this.watchedUntil = Date.now() + WATCH_TTL_MS
    this.stopListening ??= this.events.subscribe((event) => this.relay(event))
  }

  private relay(event: CimEvent): void {
    const now = Date.now()
    if (now > this.watchedUntil) {
      // Nobody said they watch for WATCH_TTL_MS: stop listening until the next heartbeat.
      this.rate.flush()
      this.stopListening?.()
      this.stopListening = undefined
      return
    }
    if (this.rate.take(now)) this.send({ type: 'event', event })
  }

  private send(item: FeedItem): void {
    // Fire and forget: a lost feed item is a gap on a screen, never a reason to slow the broker.
    const message: BusFeedItem = { ...item, origin: originOf(this.events) }
    this.bus.publish(FEED_CHANNEL, message as unknown as BusMessage).catch(() => {})
  }

  async close(): Promise<void> {
    this.stopListening?.()
    this.stopListening = undefined
    await this.unsubscribe?.()
  }
}

/**
 * Route side: one feed for every console viewer of this route. The route's own node's events come
 * straight from its Events (an all-in-one node's broker events too, when they share one Events);
 * other nodes' from the bus, where the ones of this process's Events are skipped (its relay
 * publishes them for other routes). Heartbeats go
 * out only while someone watches.
 */
export class EventFeed {
  private readonly viewers = new Set<(item: FeedItem) => void>()
  private heartbeat: NodeJS.Timeout | undefined
  private stopLocal: (() => void) | undefined
  private busSubscription: Promise<Unsubscribe> | undefined
  private readonly localRate: RateWindow

  constructor(private readonly bus: Bus, private readonly local: Events | undefined) {
    this.localRate = new RateWindow(MAX_EVENTS_PER_SECOND, (count) => this.fanOut({ type: 'dropped', node: local?.node ?? '', count }))
  }

  /** Adds a viewer; returns the undo. The first viewer starts the heartbeat, the last one stops it. */
  watch(viewer: (item: FeedItem) => void): () => void {
    this.viewers.add(viewer)
    if (this.viewers.size === 1) this.start()
    return () => {
      if (this.viewers.delete(viewer) && this.viewers.size === 0) this.stop()
    }
  }

  get watching(): number {
    return this.viewers.size
  }

  private start(): void {
    this.stopLocal = this.local?.subscribe((event) => {
      if (this.localRate.take()) this.fanOut({ type: 'event', event })
    })
    this.busSubscription ??= this.bus.subscribe(FEED_CHANNEL, (message) => {
      const { origin, ...item } = message as unknown as BusFeedItem
      if (this.local && origin === originOf(this.local)) return
      this.fanOut(item as FeedItem)
    })
    this.busSubscription.catch(() => { this.busSubscription = undefined })
    const beat = () => { this.bus.publish(WATCH_CHANNEL, { type: 'watch' }).catch(() => {}) }
    beat()
    this.heartbeat = setInterval(beat, HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  private stop(): void {
    clearInterval(this.heartbeat)
    this.heartbeat = undefined
    this.stopLocal?.()
    this.stopLocal = undefined
    // The bus subscription stays: brokers stop relaying by themselves once the heartbeats stop.
  }

  private fanOut(item: FeedItem): void {
    for (const viewer of this.viewers) {
      try { viewer(item) } catch { /* one viewer's socket trouble is its own */ }
    }
  }

  async close(): Promise<void> {
    this.viewers.clear()
    this.stop()
    const subscription = this.busSubscription
    this.busSubscription = undefined
    if (subscription) await (await subscription.catch(() => undefined))?.()
  }
}
