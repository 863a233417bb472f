import { describe, expect, it, vi } from 'vitest'
import pino from 'pino'
import type { UplinkMessage } from '../types.ts'
import { createUplinkHandler } from './uplink.ts'

describe('uplink handler', () => {
  it('relays only topics under the prefix, with the device id and a Buffer payload', () => {
    const got: UplinkMessage[] = []
    const relay = createUplinkHandler({ prefix: 'uplink/', uplink: (m) => { got.push(m) }, logger: pino({ level: 'silent' }) })
    relay('d1', { topic: 'uplinkx', payload: Buffer.from('no'), qos: 0 })
    relay('d1', { topic: 'other/uplink/t', payload: Buffer.from('no'), qos: 0 })
    relay('d1', { topic: 'uplink/t', payload: 'text', qos: 2 })
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ deviceId: 'd1', topic: 'uplink/t', qos: 2 })
    expect(got[0].payload).toEqual(Buffer.from('text'))
  })

  it('logs a relay that throws or rejects instead of failing', async () => {
    const logger = pino({ level: 'silent' })
    const error = vi.spyOn(logger, 'error')
    let n = 0
    const relay = createUplinkHandler({
      prefix: 'up/',
      logger,
      uplink: () => {
        if (n++ === 0) throw new Error('sync')
        return Promise.reject(new Error('async'))
      },
    })
    expect(() => relay('d', { topic: 'up/a', payload: Buffer.alloc(0), qos: 0 })).not.toThrow()
    relay('d', { topic: 'up/b', payload: Buffer.alloc(0), qos: 0 })
    await vi.waitFor(() => expect(error).toHaveBeenCalledTimes(2))
  })

  it('relays nothing with an empty prefix', () => {
    const uplink = vi.fn()
    createUplinkHandler({ prefix: '', uplink, logger: pino({ level: 'silent' }) })('d', { topic: 'a', payload: Buffer.alloc(0), qos: 0 })
    expect(uplink).not.toHaveBeenCalled()
  })
})
