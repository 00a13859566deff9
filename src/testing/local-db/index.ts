/**
 * The embedded local database for tests, the demo and exploring: a real MySQL
 * (Debian sid) or MariaDB (Debian trixie) downloaded once into a per-user cache
 * and run from this clone's `.emr-vault/<engine>/`, on a private loopback port.
 * How and why: docs/testing.md.
 */
export type { Engine } from './engines.js'
export { engineFromEnv } from './engines.js'
export type { LocalServer } from './server.js'
export { localServerStatus, startLocalServer, stopLocalServer } from './server.js'
