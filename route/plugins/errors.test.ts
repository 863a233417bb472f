import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.ts'
import { createMemoryAdapters, type Adapters } from '../../adapters/index.ts'
import { resolveConfig } from '../../config.ts'
import { codedError, errors } from '../../errors.ts'

let app: FastifyInstance
let adapters: Adapters
let logLines: Array<{ level: number; msg: string }>

beforeEach(async () => {
  adapters = createMemoryAdapters()
  logLines = []
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done() } })
  app = await buildApp({ config: resolveConfig({}, {}), adapters, logger: pino({ level: 'warn' }, sink) })
  // Test-only routes, added before ready: they throw what handlers and adapters can throw.
  app.get('/test/bug', { config: { scope: 'public' } }, async () => { throw new Error('secret detail') })
  app.get('/test/catalogued', { config: { scope: 'public' } }, async () => { throw new errors.RepeatLogin(42) })
  await app.ready()
})
afterEach(async () => { await app.close(); await adapters.close() })

const json = (payload: string) => ({ headers: { 'content-type': 'application/json' }, payload })

describe('errors plugin', () => {
  it('answers invalid JSON with CIM_INVALID_JSON 400', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/users', headers: { 'content-type': 'application/json' }, payload: '{"userName": ' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'CIM_INVALID_JSON' })
  })

  it('answers a schema violation with CIM_INVALID_ARGUMENT 400 saying what was wrong', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/users', payload: {} })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('CIM_INVALID_ARGUMENT')
    expect(res.json().message).toContain('userName')
    const typo = await app.inject({ method: 'POST', url: '/v1/push/users', payload: { userIds: [1], message: 'x', qoS: 1 } })
    expect(typo.statusCode).toBe(400)
    expect(typo.json().message).toContain('unknown field qoS')
  })

  it('checks bodies as sent, without coercing types', async () => {
    for (const payload of [{ userName: 5 }, { userName: null }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/users', payload })
      expect(res.statusCode).toBe(400)
      expect(res.json().code).toBe('CIM_INVALID_ARGUMENT')
    }
    const ids = await app.inject({ method: 'POST', url: '/v1/push/users', payload: { userIds: ['1747309836375'], message: 'x' } })
    expect(ids.statusCode).toBe(400)
  })

  it('answers a userId above 2^53-1 with CIM_USER_ID_OUT_OF_RANGE, in a path and in a body', async () => {
    const path = await app.inject({ method: 'GET', url: '/v1/users/9007199254740993/presence' })
    expect(path.statusCode).toBe(400)
    expect(path.json().code).toBe('CIM_USER_ID_OUT_OF_RANGE')
    const body = await app.inject({ method: 'POST', url: '/v1/push/users', ...json('{"userIds":[1747309836375, 12345678901234567890],"message":"x"}') })
    expect(body.statusCode).toBe(400)
    expect(body.json().code).toBe('CIM_USER_ID_OUT_OF_RANGE')
    const max = await app.inject({ method: 'GET', url: '/v1/users/9007199254740991/presence' })
    expect(max.json().code).toBe('CIM_USER_NOT_FOUND')
  })

  it('answers a body over the limit with CIM_PAYLOAD_TOO_LARGE 413', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/users', ...json(JSON.stringify({ userName: 'x'.repeat(1_100_000) })) })
    expect(res.statusCode).toBe(413)
    expect(res.json().code).toBe('CIM_PAYLOAD_TOO_LARGE')
  })

  it('answers an unknown route with CIM_NOT_FOUND 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nothing-here' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ statusCode: 404, code: 'CIM_NOT_FOUND', message: 'Route GET /v1/nothing-here not found' })
  })

  it('keeps the code and status of catalogue errors', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/catalogued' })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toEqual({ statusCode: 409, code: 'CIM_REPEAT_LOGIN', message: 'User 42 is already logged in' })
  })

  it('answers a bug with CIM_INTERNAL 500, logs it, and does not leak its message', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/bug' })
    expect(res.statusCode).toBe(500)
    expect(res.json().code).toBe('CIM_INTERNAL')
    expect(res.body).not.toContain('secret detail')
    expect(logLines.some((l) => l.level >= 50 && l.msg === 'unhandled error')).toBe(true)
  })

  it('answers a dead backing service (Redis connection error) with CIM_BACKEND_UNAVAILABLE 503', async () => {
    // What a Redis adapter throws when its connection is gone (adapters/redis.ts, redisFailure;
    // adapters/redis.test.ts has it against a stopped Redis).
    const unavailable = (cause: Error) => Object.assign(codedError('BackendUnavailable', `Redis: ${cause.message}`), { cause })
    adapters.accounts.register = async () => { throw unavailable(new Error('Connection is closed.')) }
    const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { userName: 'a' } })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('CIM_BACKEND_UNAVAILABLE')
    adapters.presence.users.getMany = async () => { throw unavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })) }
    adapters.accounts.get = async (userId) => ({ userId, userName: 'a' })
    const push = await app.inject({ method: 'POST', url: '/v1/push/users/1', payload: { message: 'x' } })
    expect(push.statusCode).toBe(503)
    expect(push.json().code).toBe('CIM_BACKEND_UNAVAILABLE')
    expect(logLines.some((l) => l.level === 40 && l.msg === 'backing service unavailable')).toBe(true)
  })
})
