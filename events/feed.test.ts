/**
 * The console's live feed over the bus: a broker relays its node's events only while a route
 * watches, at most MAX_EVENTS_PER_SECOND, and says how many it left out; a route shows another
 * process's events once, and its own process's events once (not twice through the bus).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { MemoryBus } from '../adapters/bus/memory.ts'
import { Events } from './index.ts'
import { EventFeed, FeedRelay, MAX_EVENTS_PER_SECOND, FEED_CHANNEL, type FeedItem } from './feed.ts'
import { eventually, sleep } from '../test/support/wait.ts'

const closing: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c.close()
})

const online = (userId: number) => ({ type: 'user.online' as const, userId, userName: `u${userId}`, connId: `c${userId}` })

describe('live feed relay', () => {
  it('relays nothing until a route watches, then every event of a remote broker, once', async () => {
    const bus = new MemoryBus()
    const brokerEvents = new Events('broker-a')
    closing.push(bus, await FeedRelay.start(bus, brokerEvents))
    const onBus: unknown[] = []
    await bus.subscribe(FEED_CHANNEL, (m) => { onBus.push(m) })

    brokerEvents.emit(online(1))
    await sleep(20)
    expect(onBus).toEqual([])
    expect(brokerEvents.active).toBe(false)

    const feed = new EventFeed(bus, new Events('route'))
    closing.push(feed)
    const seen: FeedItem[] = []
    const unwatch = feed.watch((item) => seen.push(item))
    await eventually(() => brokerEvents.active, 1000, 'the relay to listen')
    brokerEvents.emit(online(2))
    await eventually(() => seen.length === 1, 1000, 'the relayed event')
    expect(seen[0]).toMatchObject({ type: 'event', event: { type: 'user.online', userId: 2, node: 'broker-a' } })
    unwatch()
  })

  it('shows its own process\'s events once, though its relay also puts them on the bus', async () => {
    const bus = new MemoryBus()
    const shared = new Events('all-in-one')
    closing.push(bus, await FeedRelay.start(bus, shared))
    const feed = new EventFeed(bus, shared)
    closing.push(feed)
    const seen: FeedItem[] = []
    feed.watch((item) => seen.push(item))
    await eventually(() => shared.active, 1000, 'the relay to listen')
    shared.emit(online(3))
    await sleep(50)
    expect(seen.filter((i) => i.type === 'event')).toHaveLength(1)
  })

  it('caps a broker at MAX_EVENTS_PER_SECOND and reports what it dropped', async () => {
    const bus = new MemoryBus()
    const brokerEvents = new Events('busy')
    closing.push(bus, await FeedRelay.start(bus, brokerEvents))
    const feed = new EventFeed(bus, undefined)
    closing.push(feed)
    const seen: FeedItem[] = []
    feed.watch((item) => seen.push(item))
    await eventually(() => brokerEvents.active, 1000, 'the relay to listen')
    const burst = MAX_EVENTS_PER_SECOND + 500
    for (let i = 0; i < burst; i++) brokerEvents.emit(online(i + 1))
    await eventually(() => seen.filter((i) => i.type === 'event').length === MAX_EVENTS_PER_SECOND, 2000, 'the capped events')
    // The dropped count goes out with the first event of the next second.
    await sleep(1_050)
    brokerEvents.emit(online(1))
    const dropped = await eventually(() => seen.find((i) => i.type === 'dropped'), 1000, 'the dropped count')
    expect(dropped).toEqual({ type: 'dropped', node: 'busy', count: 500 })
  })
})
