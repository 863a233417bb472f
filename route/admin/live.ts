/**
 * GET /admin/api/events: the live event feed as server-sent events (`text/event-stream`), one
 * `data:` line of JSON per FeedItem (events/feed.ts). The page reads it with fetch() and a stream
 * reader, not EventSource, because EventSource cannot send the Authorization header the key
 * check needs. A viewer whose socket does not keep up loses events (counted, and told as a
 * `dropped` item) rather than buffering without bound.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Events } from '../../events/index.ts'
import { EventFeed, type FeedItem } from '../../events/feed.ts'
import type { Bus } from '../../adapters/bus/index.ts'

/** Bytes a viewer's socket may hold unsent before its events are dropped. */
const MAX_BUFFERED_BYTES = 1 << 20
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000

export interface LiveFeedOptions {
  bus: Bus
  events?: Events
}

export default async function liveFeed(app: FastifyInstance, { bus, events }: LiveFeedOptions): Promise<void> {
  const feed = new EventFeed(bus, events)
  const open = new Set<FastifyReply>()
  // Streams never end by themselves: end them when the route closes, or close would wait for them.
  app.addHook('preClose', async () => {
    for (const reply of open) reply.raw.end()
    open.clear()
  })
  app.addHook('onClose', async () => feed.close())

  app.get('/events', { schema: { hide: true }, config: { scope: 'admin' } }, (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    res.write(`: cim live feed, node ${events?.node ?? 'unknown'}\n\n`)
    let dropped = 0
    const send = (item: FeedItem) => {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        dropped += item.type === 'event' ? 1 : item.count
        return
      }
      if (dropped > 0) {
        res.write(`data: ${JSON.stringify({ type: 'dropped', node: 'viewer', count: dropped })}\n\n`)
        dropped = 0
      }
      res.write(`data: ${JSON.stringify(item)}\n\n`)
    }
    const unwatch = feed.watch(send)
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
    open.add(reply)
    req.raw.on('close', () => {
      clearInterval(keepalive)
      unwatch()
      open.delete(reply)
    })
  })
}
