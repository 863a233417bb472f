/**
 * The admin console at /admin (README "Operations"): a static page, public, that asks for an API
 * key with the `admin` scope, keeps it in sessionStorage and calls /admin/api/* with it
 * (`Authorization: Bearer`). Without keys configured the API is open, as the rest of the route.
 * Front-end libraries come from npm and are served from node_modules by path (uPlot for the
 * chart): nothing is copied into the repository, nothing is fetched from a CDN.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import type { Events } from '../../events/index.ts'
import type { RouteContext } from '../context.ts'
import adminApi from './api.ts'
import liveFeed from './live.ts'

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page')
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')

export type AdminContext = RouteContext & { events?: Events }

export default async function adminConsole(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  // The page and its assets: public (the page itself holds no data), hidden from the OpenAPI document.
  await app.register(async (assets) => {
    assets.addHook('onRoute', (route) => { route.config = { ...route.config, scope: 'public' } })
    await assets.register(fastifyStatic, { root: PAGE_DIR, prefix: '/admin/', index: 'index.html', cacheControl: false })
    // The page's relative world starts at /admin/.
    assets.get('/admin', { schema: { hide: true } }, (_req, reply) => reply.redirect('/admin/'))
    await assets.register(fastifyStatic, {
      root: UPLOT_DIR, prefix: '/admin/vendor/uplot/', decorateReply: false, allowedPath: (path) => /^\/uPlot\.(iife\.min\.js|min\.css)$/.test(path),
    })
  })
  await app.register(async (api) => {
    await api.register(adminApi, ctx)
    await api.register(liveFeed, { bus: ctx.adapters.bus, events: ctx.events })
  }, { prefix: '/admin/api' })
}
