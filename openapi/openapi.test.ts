import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { OPENAPI_PATH, generateOpenApi } from './generate.ts'

type Operation = { tags?: string[]; summary?: string; responses?: Record<string, unknown> }

describe('openapi/openapi.json', () => {
  it('is what the route code generates (run `npx tsx openapi/generate.ts` after changing a schema)', async () => {
    const generated = await generateOpenApi()
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(generated)
    // Deterministic: a second build gives the same bytes.
    expect(await generateOpenApi()).toBe(generated)
  })

  it('documents every operation with tags, a summary and its responses, errors included', async () => {
    const doc = JSON.parse(await generateOpenApi()) as { paths: Record<string, Record<string, Operation>> }
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ path, m, op })))
    expect(ops.length).toBeGreaterThanOrEqual(18)
    for (const { path, op } of ops) {
      expect(op.tags?.length, path).toBeGreaterThan(0)
      expect(op.summary, path).toBeTruthy()
      const codes = Object.keys(op.responses ?? {})
      expect(codes.some((c) => c === '200' || c === '201'), path).toBe(true)
      // /v1 errors are {statusCode, code, message}; the CIM-compatible ones answer 200 with a code.
      if (path.startsWith('/v1/')) expect(codes, path).toContain('500')
    }
  })
})
