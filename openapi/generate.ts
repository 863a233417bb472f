/**
 * Writes openapi/openapi.json from the route app's own schemas (`npm run gen`). The document is
 * checked in and openapi.test.ts regenerates it and fails on any difference, so the published
 * contract cannot drift from the code. Nothing machine- or time-dependent goes into it.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildApp } from '../route/app.ts'
import { createMemoryAdapters } from '../adapters/index.ts'
import { resolveConfig } from '../config.ts'

export const OPENAPI_PATH = fileURLToPath(new URL('./openapi.json', import.meta.url))

/** The OpenAPI document as it is written to disk (2-space JSON, trailing newline). */
export async function generateOpenApi(): Promise<string> {
  const adapters = createMemoryAdapters()
  // Fixed configuration: environment variables must not change the document. Compat on, so the
  // document lists every endpoint the route can serve.
  const app = await buildApp({ config: resolveConfig({ advertiseHost: '127.0.0.1', compat: true }, {}), adapters })
  try {
    await app.ready()
    return `${JSON.stringify(app.swagger(), null, 2)}\n`
  } finally {
    await app.close()
    await adapters.close()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(OPENAPI_PATH, await generateOpenApi())
  console.log(`wrote ${OPENAPI_PATH}`)
}
