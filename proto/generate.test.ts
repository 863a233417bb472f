import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { generateProto, GENERATED_DTS, GENERATED_JS } from './generate.ts'

describe('generated protobuf code', () => {
  it('matches what proto/cim.proto generates (run `npm run gen` after editing the schema)', () => {
    const { js, dts } = generateProto()
    expect(readFileSync(GENERATED_JS, 'utf8')).toBe(js)
    expect(readFileSync(GENERATED_DTS, 'utf8')).toBe(dts)
  }, 60_000)
})
