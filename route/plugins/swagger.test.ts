import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { routeHarness, type RouteHarness } from '../../test/support/fake-broker.ts'

let h: RouteHarness
beforeAll(async () => { h = await routeHarness() })
afterAll(async () => { await h.close() })

describe('OpenAPI and Swagger UI', () => {
  it('serves the OpenAPI 3 document at GET /openapi.json with both surfaces', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('application/json')
    const doc = res.json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/push/users/{userId}', '/v1/push/users', '/v1/nodes', '/login', '/p2pRoute']))
    expect(doc.paths['/openapi.json']).toBeUndefined()
    expect(doc.components.schemas.ErrorResponse.required).toEqual(['statusCode', 'code', 'message'])
  })

  it('serves Swagger UI at GET /docs', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/docs' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('swagger-ui')
  })
})
