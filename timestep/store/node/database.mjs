// PGLite's files: opening a data directory, creating one, and the template new ones are copied from.
//
// Creating a data directory the usual way runs initdb in a second and third WebAssembly instance beside
// the server's own, which keeps about 800 MiB resident. Instead, `timestep setup` runs initdb once into a
// template archive, and a new data directory is unpacked from it in a short-lived child process (about
// 330 MiB at its peak), under a temporary name that becomes `pgdata/` only once it is complete.
//
// Usage: node database.mjs template OUT.tar.gz      (run by `timestep setup`)
//        node database.mjs create DIR [TEMPLATE]      (run by launcher.mjs)

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { amcheck } from '@electric-sql/pglite/contrib/amcheck'

export const TEMPLATE = fileURLToPath(new URL('./template.tar.gz', import.meta.url))

// 16 MB of shared buffers instead of 128 MB: the same speed on timestep's workloads, 130 MiB less resident.
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB']

/** A data directory the caller must refuse: it holds files, but not a PostgreSQL cluster. */
export class NotAClusterError extends Error {}

/**
 * Opens a data directory with the extensions `timestep doctor --check` uses: amcheck verifies tables and
 * indexes page by page (it is installed into the database only when the check runs).
 */
export function openDatabase(pgdata) {
  return PGlite.create({ dataDir: pgdata, startParams: START_PARAMS, extensions: { amcheck } })
}

/**
 * Creates `pgdata` if it does not exist yet, and returns what that took (null if it existed); refuses a
 * directory that holds something else. Either way, nothing in it is left open to other users.
 */
export function ensureDataDirectory(pgdata) {
  if (fs.existsSync(path.join(pgdata, 'PG_VERSION'))) {
    makePrivate(pgdata)
    return null
  }
  if (fs.existsSync(pgdata)) {
    if (fs.readdirSync(pgdata).length) {
      throw new NotAClusterError(`${pgdata} holds files but no PostgreSQL cluster (no PG_VERSION)`)
    }
    fs.rmdirSync(pgdata)
  }
  const parent = path.dirname(pgdata)
  for (const name of fs.readdirSync(parent)) {
    if (name.startsWith(`${path.basename(pgdata)}.new-`)) fs.rmSync(path.join(parent, name), { recursive: true, force: true })
  }
  const staging = fs.mkdtempSync(`${pgdata}.new-`)
  const args = [fileURLToPath(import.meta.url), 'create', staging]
  if (fs.existsSync(TEMPLATE)) args.push(TEMPLATE)
  const started = Date.now()
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (child.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true })
    throw new Error(`creating the data directory failed (exit ${child.status ?? child.signal})`)
  }
  makePrivate(staging)
  fs.renameSync(staging, pgdata)
  fsyncDirectory(parent)
  const mib = (kib) => Math.round(kib / 1024)
  return {
    seconds: (Date.now() - started) / 1000,
    childPeakMib: mib(JSON.parse(child.stdout).maxRssKib),
    ownMib: mib(process.memoryUsage().rss / 1024),
    fromTemplate: args.length > 3,
  }
}

/**
 * Takes every permission of group and others off a tree: the template's files come 0666 and 0755 whatever
 * the umask, and data directories made before this server was written kept them. Symbolic links are
 * neither followed nor changed.
 */
export function makePrivate(directory) {
  const visit = (entry) => {
    const info = fs.lstatSync(entry)
    if (info.isSymbolicLink()) return
    if (info.mode & 0o077) fs.chmodSync(entry, info.mode & 0o700)
    if (info.isDirectory()) for (const name of fs.readdirSync(entry)) visit(path.join(entry, name))
  }
  visit(directory)
}

function fsyncDirectory(directory) {
  const fd = fs.openSync(directory, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

async function createFromTemplate(directory, template) {
  const loadDataDir = template ? new Blob([fs.readFileSync(template)]) : undefined
  const db = await PGlite.create({ dataDir: directory, loadDataDir, startParams: START_PARAMS })
  await db.close()
}

async function makeTemplate(out) {
  const db = await PGlite.create({ startParams: START_PARAMS })
  const archive = Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer())
  await db.close()
  fs.writeFileSync(`${out}.tmp`, archive)
  fs.renameSync(`${out}.tmp`, out)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, target, template] = process.argv.slice(2)
  if (command === 'template') await makeTemplate(target)
  else if (command === 'create') {
    await createFromTemplate(target, template)
    console.log(JSON.stringify({ maxRssKib: process.resourceUsage().maxRSS }))
  } else {
    console.error('usage: node database.mjs template OUT | create DIR [TEMPLATE]')
    process.exit(2)
  }
}
