import { createRequire } from 'node:module'
import mqemitter from 'mqemitter'
import type { MqttBackend } from './index.ts'

// aedes-persistence is CommonJS whose type declarations claim an ESM default export; load it the
// CommonJS way so the call is typed and works.
const require = createRequire(import.meta.url)
const memoryPersistence = require('aedes-persistence') as () => unknown

/** In-process mq and in-memory persistence: the defaults aedes itself uses. */
export function memoryMqttBackend(): MqttBackend {
  return { mq: mqemitter(), persistence: memoryPersistence() }
}
