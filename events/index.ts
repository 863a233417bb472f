/**
 * Events to the business backend (README "Events to your backend"): what happened on the edge —
 * a device's uplink publish, a user or device coming online or going offline, a qos 1 push
 * acknowledged by the app, a chat message sent through the compatible endpoints.
 *
 * Producers (brokers, the route) call `events.emit(event)`: it never blocks, never throws and
 * never awaits, so a slow or dead backend cannot slow a push or an MQTT delivery. Sinks (the
 * webhook, the Redis stream) take the events from there, each with its own type filter, and carry
 * them at least once: a backend dedupes by `id`.
 */
import { randomUUID } from 'node:crypto'

export const EVENT_TYPES = [
  'device.uplink', 'device.connected', 'device.disconnected',
  'user.online', 'user.offline', 'push.acked', 'user.message',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Why a user's connection ended. */
export type OfflineReason = 'closed' | 'kicked' | 'timeout' | 'slow_consumer' | 'draining'

interface EventBase<T extends EventType> {
  type: T
  /** Unique per event: at-least-once sinks may deliver one twice, a backend dedupes by it. */
  id: string
  /** When it happened, ms since the epoch. */
  ts: number
  /** The broker (or route) node where it happened. */
  node: string
}

export interface DeviceUplinkEvent extends EventBase<'device.uplink'> {
  clientId: string
  topic: string
  /** base64, so binary payloads survive JSON. */
  payload: string
  qos: 0 | 1 | 2
}
export interface DeviceConnectedEvent extends EventBase<'device.connected'> { clientId: string }
export interface DeviceDisconnectedEvent extends EventBase<'device.disconnected'> { clientId: string; reason: string }
export interface UserOnlineEvent extends EventBase<'user.online'> { userId: number; userName: string; connId: string }
/** `code`: the catalogue code the connection ended with (e.g. CIM_ADMIN_KICK under reason kicked). */
export interface UserOfflineEvent extends EventBase<'user.offline'> { userId: number; connId: string; reason: OfflineReason; code?: string }
/** The delivery receipt of a qos 1 push: the app acknowledged it. */
export interface PushAckedEvent extends EventBase<'push.acked'> { userId: number; msgId: string; seq: number }
/** Chat through the CIM-compatible endpoints: `to` for a private message, absent for a group one. */
export interface UserMessageEvent extends EventBase<'user.message'> { from: number; to?: number; text: string; msgId: string }

export type CimEvent =
  | DeviceUplinkEvent | DeviceConnectedEvent | DeviceDisconnectedEvent
  | UserOnlineEvent | UserOfflineEvent | PushAckedEvent | UserMessageEvent

/** An event as a producer gives it: `id`, `ts` and `node` are filled in by emit(). */
export type EventInput = CimEvent extends infer E ? E extends CimEvent ? Omit<E, 'id' | 'ts' | 'node'> & { ts?: number } : never : never

/**
 * The key that orders events: events of one device or one user reach a sink in the order they
 * happened; events of different sources may interleave.
 */
export function sourceOf(e: CimEvent): string {
  switch (e.type) {
    case 'device.uplink':
    case 'device.connected':
    case 'device.disconnected':
      return `device:${e.clientId}`
    case 'user.message':
      return `user:${e.from}`
    default:
      return `user:${e.userId}`
  }
}

/**
 * What a sink counts in plain fields, read by /metrics at scrape time (README "Operations"):
 * `cim_events_queue_depth{sink}`, `cim_events_sent_total{sink}` and so on.
 */
export interface EventSinkStats {
  /** Events waiting to be delivered (in memory, or in the event log). */
  queued: number
  /** Events the backend accepted. */
  sent: number
  /** Delivery attempts that failed and were tried again. */
  retries: number
  /** Events given up on after the last attempt (kept where the sink keeps its dead letters). */
  deadLetters: number
  /** Events refused because the queue was full. */
  dropped: number
}

/** A consumer of events. `publish` is called synchronously on the producer's path: queue, never block. */
export interface EventSink {
  publish(event: CimEvent): void
  close(): Promise<void>
  /** The sink's label in the metrics (`webhook`, `stream`). */
  readonly name?: string
  /** Its counters, read at scrape time. */
  stats?(): EventSinkStats
}

/**
 * A filter over event types: `*` (all), exact types, or `prefix.*` (e.g. `device.*`), comma
 * separated. An empty filter means all.
 */
export function typeFilter(spec: string): (type: EventType) => boolean {
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean)
  if (parts.length === 0 || parts.includes('*')) return () => true
  for (const p of parts) {
    const known = p.endsWith('.*') ? EVENT_TYPES.some((t) => t.startsWith(p.slice(0, -1))) : (EVENT_TYPES as readonly string[]).includes(p)
    if (!known) throw new Error(`unknown event type "${p}" (known: ${EVENT_TYPES.join(', ')}, or a prefix like device.*)`)
  }
  const allowed = new Set(EVENT_TYPES.filter((t) => parts.some((p) => (p.endsWith('.*') ? t.startsWith(p.slice(0, -1)) : t === p))))
  return (type) => allowed.has(type)
}

interface Route { sink: EventSink; accepts: (type: EventType) => boolean }

/**
 * The node's event emitter: sinks with their filters, plus in-process listeners (the admin
 * console's live feed). With no sink and no listener, emit() is one length check.
 */
export class Events {
  private readonly routes: Route[] = []
  private readonly listeners = new Set<(e: CimEvent) => void>()
  /** Events emitted while some sink or listener was there (`cim_events_emitted_total`). */
  emitted = 0

  constructor(readonly node: string) {}

  /** True when some sink or listener would receive an event: producers may skip building one. */
  get active(): boolean {
    return this.routes.length > 0 || this.listeners.size > 0
  }

  addSink(sink: EventSink, accepts: (type: EventType) => boolean = () => true): void {
    this.routes.push({ sink, accepts })
  }

  /** Listens to every event of this node; returns the undo. A listener that throws is ignored. */
  subscribe(listener: (e: CimEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  emit(input: EventInput): void {
    if (!this.active) return
    this.emitted++
    const event = { ...input, id: randomUUID(), ts: input.ts ?? Date.now(), node: this.node } as CimEvent
    for (const r of this.routes) {
      if (!r.accepts(event.type)) continue
      try { r.sink.publish(event) } catch { /* a sink counts its own failures; producers never see them */ }
    }
    for (const l of this.listeners) {
      try { l(event) } catch { /* ignored */ }
    }
  }

  /** Each sink's counters, by its name (README "Operations"); read when /metrics is scraped. */
  sinkStats(): Array<{ sink: string; stats: EventSinkStats }> {
    const out: Array<{ sink: string; stats: EventSinkStats }> = []
    for (const r of this.routes) if (r.sink.stats) out.push({ sink: r.sink.name ?? 'sink', stats: r.sink.stats() })
    return out
  }

  async close(): Promise<void> {
    await Promise.all(this.routes.map((r) => r.sink.close()))
  }
}
