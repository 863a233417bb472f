/**
 * Shutdown of a route: `app.stopAccepting()` makes every request but a read (GET, HEAD, OPTIONS)
 * answer 503 CIM_SHUTTING_DOWN with `Retry-After`, and resolves once the requests already past
 * this check have been answered. The node calls it before its broker drains (node.ts close), so
 * nothing is answered `queued` that the process is about to drop: with memory adapters the inbox
 * dies with the process (README, Limits). Reads keep working until the app closes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errors } from '../../errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Refuse writes from now on; resolves when those in flight were answered, or after `maxWaitMs`. */
    stopAccepting(maxWaitMs: number): Promise<void>
    /** True once stopAccepting() was called (GET /ready answers 503 from then on). */
    isDraining(): boolean
  }
}

/** What a refused caller is told to wait: a restarted node, or another behind the load balancer. */
export const SHUTDOWN_RETRY_AFTER_SECONDS = 5

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

async function drainingPlugin(app: FastifyInstance): Promise<void> {
  let draining = false
  let inFlight = 0
  let idle: (() => void) | undefined
  // One shared listener (no closure per request, so `on`, not `once`'s wrapper): 'close' fires once
  // the response is sent or the client went away, so an aborted request is never counted forever.
  const answered = (): void => {
    if (--inFlight === 0 && idle) idle()
  }

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (draining && !READS.has(request.method)) {
      void reply.header('retry-after', String(SHUTDOWN_RETRY_AFTER_SECONDS))
      return done(new errors.ShuttingDown('this node takes no new requests; retry after the Retry-After seconds'))
    }
    inFlight++
    reply.raw.on('close', answered)
    done()
  })

  app.decorate('isDraining', () => draining)
  app.decorate('stopAccepting', async (maxWaitMs: number) => {
    draining = true
    if (inFlight === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs)
      timer.unref()
      idle = () => { clearTimeout(timer); resolve() }
    })
  })
}
// Not encapsulated (fastify-plugin style): the hook covers every route, the decorator is the app's.
Object.assign(drainingPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-draining' })

export default drainingPlugin
