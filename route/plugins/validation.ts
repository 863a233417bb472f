/**
 * Request validation with TypeBox's compiled checker. Bodies are checked exactly as sent: fastify's
 * default ajv setup coerces types (null → "", 5 → "5", null → [""] for an array) and silently drops
 * unknown fields, so a misspelt `qos` would quietly mean qos 0. Path and query strings are text, so
 * numeric and boolean fields there are converted first — strictly: "1.5" stays "1.5" and fails an
 * integer schema (TypeBox's own Value.Convert would truncate it to 1, and read "0x10" as 16).
 */
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

interface ObjectSchema { properties?: Record<string, { type?: unknown }> }

/** Converts the string fields of a params/querystring object whose schema says number or boolean. */
function convertStrings(schema: ObjectSchema, value: unknown): unknown {
  if (!schema.properties || !value || typeof value !== 'object') return value
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const [key, prop] of Object.entries(schema.properties)) {
    const v = out[key]
    if (typeof v !== 'string') continue
    if ((prop.type === 'integer' || prop.type === 'number') && DECIMAL.test(v)) out[key] = Number(v)
    else if (prop.type === 'boolean' && (v === 'true' || v === 'false')) out[key] = v === 'true'
  }
  return out
}

/** ES2024's String.prototype.isWellFormed (Node 20), beyond this project's ES2022 lib typings. */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed()

/**
 * Where the first string (a value, or a key as `path/key`) with a lone UTF-16 surrogate is, or
 * undefined. Such a string is valid JSON but not Unicode: written into a proto3 string or an MQTT
 * topic it becomes invalid UTF-8 that strict decoders refuse, so a body carrying one is refused
 * before anything is stored (400 CIM_INVALID_ARGUMENT; docs/protocol.md, Pushes).
 */
export function illFormedAt(v: unknown, path = ''): string | undefined {
  if (typeof v === 'string') return isWellFormed(v) ? undefined : path
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const at = typeof v[i] === 'object' || typeof v[i] === 'string' ? illFormedAt(v[i], `${path}/${i}`) : undefined
      if (at !== undefined) return at
    }
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!isWellFormed(k)) return `${path}/${k}`
      const at = illFormedAt(x, `${path}/${k}`)
      if (at !== undefined) return at
    }
  }
  return undefined
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema)
  const convert = httpPart === 'params' || httpPart === 'querystring'
  const text = httpPart === 'body'
  return (input: unknown) => {
    const value = convert ? convertStrings(schema as ObjectSchema, input) : input
    if (check.Check(value)) {
      const at = text ? illFormedAt(value) : undefined
      if (at === undefined) return { value }
      const item = { keyword: 'wellFormed', instancePath: at, schemaPath: '#', params: {}, message: 'must be well-formed Unicode (it has a lone UTF-16 surrogate)' }
      return { error: [item] as unknown as FastifySchemaValidationError[] }
    }
    // ajv-shaped items ({keyword, instancePath, params, message}): fastify formats them into the
    // message and the errors plugin reads them.
    return { error: check.Errors(value) as unknown as FastifySchemaValidationError[] }
  }
}
