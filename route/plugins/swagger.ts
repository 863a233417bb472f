/**
 * The OpenAPI 3 document, built by @fastify/swagger from the route schemas, served as
 * GET /openapi.json, with Swagger UI at GET /docs. openapi/generate.ts writes the same document to
 * openapi/openapi.json, so nothing in it may depend on the machine or the clock.
 */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ErrorBody } from '../schemas.ts'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

export const tags = [
  { name: 'push', description: 'Push to users, devices, everyone, or any MQTT topic' },
  { name: 'users', description: 'Accounts and presence of app users' },
  { name: 'devices', description: 'Connected MQTT devices' },
  { name: 'nodes', description: 'Broker nodes of the cluster' },
  {
    name: 'cim-compatible',
    description: 'The endpoints the upstream cim v2.1 client calls, served only with `--compat` (upstream\'s trust model: '
      + 'no API key, token-less logins). Errors answer HTTP 200 with the upstream '
      + 'wrapper `{code, message, reqNo, dataBody}` and string codes: 9000 success, 5000 repeat login, '
      + '7000 receiver offline, 7100 no server, 9100 account mismatch, 3000 invalid argument, 4000 failure.',
  },
]

async function swaggerPlugin(app: FastifyInstance): Promise<void> {
  app.addSchema(ErrorBody)
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'CIM Relay',
        version: pkg.version,
        description: 'Push-notification and IoT relay: push to app users (CIM TCP) and devices (MQTT). '
          + 'Every push answers per target: `delivered`, `queued` (stored for later delivery) or `offline`. '
          + 'Errors are `{statusCode, code, message}` with a stable `code`.',
      },
      tags,
      // Swagger UI's "Authorize" fills either; operations list both (route/plugins/auth.ts SECURITY_REQUIREMENT).
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key: `X-API-Key: <key>`' },
        },
      },
    },
    // Shared schemas keep their $id as their component name (ErrorResponse), not `def-0`.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })
  // Swagger UI's own routes (page, assets) need no key: marked public here, where they are made.
  await app.register(async (ui) => {
    ui.addHook('onRoute', (route) => { route.config = { ...route.config, scope: 'public' } })
    await ui.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true } })
  })
  app.get('/openapi.json', { schema: { hide: true }, config: { scope: 'public' } }, async () => app.swagger())
}
Object.assign(swaggerPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-swagger' })

export default swaggerPlugin
