/**
 * Regenerates the checked-in protobuf code from proto/cim.proto with protobufjs-cli.
 * `npm run gen` writes the files; the test suite calls `generateProto()` and fails on a diff.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const bin = (name: string) => join(here, '..', 'node_modules', '.bin', name)

export const GENERATED_JS = join(here, 'generated', 'cim.js')
export const GENERATED_DTS = join(here, 'generated', 'cim.d.ts')

/** Returns the generated module source and its type declarations without writing them. */
export function generateProto(): { js: string; dts: string } {
  const js = execFileSync(bin('pbjs'), [
    '-t', 'static-module', '-w', 'es6', '--no-beautify', '--no-verify', '--no-delimited',
    '--no-service', '--force-number', join(here, 'cim.proto'),
  ], { encoding: 'utf8' })
    // pbjs emits a bare-specifier import that Node's ESM resolver cannot load without the extension.
    .replace(/from "protobufjs\/minimal"/g, 'from "protobufjs/minimal.js"')
  const tmp = GENERATED_JS + '.tmp.js'
  writeFileSync(tmp, js)
  const dts = execFileSync(bin('pbts'), ['--no-comments', tmp], { encoding: 'utf8' })
  execFileSync('rm', ['-f', tmp])
  return { js, dts }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { js, dts } = generateProto()
  writeFileSync(GENERATED_JS, js)
  writeFileSync(GENERATED_DTS, dts)
  console.log('wrote', GENERATED_JS, GENERATED_DTS, readFileSync(GENERATED_JS).length, 'bytes')
}
