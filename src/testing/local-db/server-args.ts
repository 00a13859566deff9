import { join } from 'node:path'
import type { Installation } from './download.js'
import type { StatePaths } from './paths.js'
import { HOST } from './port.js'

/**
 * mysqld/mariadbd command lines. Flags marked (facts) are the ones a server run
 * from a private root, as root, was found to need on Debian 12; the rest are
 * this project's choices, each with its reason.
 */

/** Options both the initialisation and the running server need. */
export function baseArgs(inst: Installation, dataDir: string): string[] {
  const root = inst.root
  return [
    // (facts) Must come first; keeps /etc/mysql/my.cnf and ~/.my.cnf of the host
    // (possibly MariaDB 10.11's) out of our server.
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--basedir=${join(root, 'usr')}`, // (facts)
    `--lc-messages-dir=${join(root, inst.spec.messagesDir)}`, // (facts)
    // The compiled-in plugin dir is the host's /usr/lib/mysql/plugin, which may
    // hold another server's plugins; point at the private root's.
    `--plugin-dir=${join(root, 'usr/lib/mysql/plugin')}`,
    // (facts) Everything here runs as root; mysqld refuses root without it.
    '--user=root',
    // (facts) MySQL's default /var/lib/mysql-files does not exist here. MariaDB's
    // Debian build already defaults to NULL and rejects the value "NULL".
    ...(inst.engine === 'mysql' ? ['--secure-file-priv=NULL'] : []),
  ]
}

export function serverArgs(
  inst: Installation,
  state: StatePaths,
  port: number,
): string[] {
  return [
    ...baseArgs(inst, state.dataDir),
    `--bind-address=${HOST}`, // (facts) loopback only: root has no password
    `--port=${port}`,
    `--socket=${state.socket}`, // (facts) private socket and pid file
    `--pid-file=${state.pidFile}`,
    `--log-error=${state.errorLog}`,
    // (facts) X Protocol would listen on a second port (33060) we do not use.
    ...(inst.engine === 'mysql' ? ['--mysqlx=OFF'] : []),
    // Our tests read performance_schema.events_statements_history. MySQL 9.7 has
    // it and events_statements_current ON by default; MariaDB 11.8 has both OFF,
    // and history records nothing unless current is on too (checked on 11.8.9).
    // Passing them for both engines keeps the two alike.
    '--performance-schema=ON',
    '--performance-schema-consumer-events-statements-current=ON',
    '--performance-schema-consumer-events-statements-history=ON',
    // A test database, not a production one: keep memory modest.
    '--innodb-buffer-pool-size=128M',
  ]
}
