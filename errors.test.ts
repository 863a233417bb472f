import { describe, it, expect } from 'vitest'
import { catalogue, codedError, compatCodeOf, errors } from './errors.ts'

describe('error catalogue', () => {
  it('has unique codes, each with an HTTP status and an upstream code', () => {
    const codes = Object.values(catalogue).map((e) => e.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (const e of Object.values(catalogue)) {
      expect(e.status).toBeGreaterThanOrEqual(400)
      expect(e.compat).toMatch(/^\d{4}$/)
    }
  })

  it('builds errors carrying code, status and a formatted message', () => {
    const err = new errors.UserNotFound(42)
    expect(err).toMatchObject({ code: 'CIM_USER_NOT_FOUND', statusCode: 404, message: 'Unknown user 42' })
    expect(codedError('FrameTooLarge', 70000, 65536).message).toBe('Frame length 70000 exceeds the maximum of 65536 bytes')
  })

  it('maps to the upstream string codes the cim client checks', () => {
    expect(compatCodeOf('CIM_REPEAT_LOGIN')).toBe('5000')
    expect(compatCodeOf('CIM_USER_OFFLINE')).toBe('7000')
    expect(compatCodeOf('CIM_NO_BROKER')).toBe('7100')
    expect(compatCodeOf('CIM_ACCOUNT_MISMATCH')).toBe('9100')
    expect(compatCodeOf('CIM_INVALID_ARGUMENT')).toBe('3000')
    expect(compatCodeOf('something else')).toBe('4000')
  })
})
