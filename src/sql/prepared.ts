import type { Knex } from 'knex'
import { subscribedValueChannels } from '../db/index.js'
import { ConfigurationError, DatabaseError, VaultError } from '../errors/index.js'
import { isModeRefusal, modeRefusalError } from './mode-guard.js'

/** A statement compiled by knex: `?` placeholders and their values, never joined. */
export interface CompiledStatement {
  readonly sql: string
  readonly bindings: readonly unknown[]
}

/** Anything knex can compile: a query builder or a raw fragment. */
export type Compilable = Knex.QueryBuilder | Knex.Raw | CompiledStatement

/** A knex instance or a transaction: statements run on its connection. */
export type Executor = Knex | Knex.Transaction

export interface WriteResult {
  readonly affectedRows: number
}

type DriverCallback = (err: unknown, result: unknown) => void

/**
 * The part of mysql2's callback connection used here. Not `connection.promise()`:
 * that builds a new PromiseConnection (an EventEmitter with two listeners) per
 * call and, with mysql2's default `trace: true`, captures a stack per statement
 * (node_modules/mysql2/lib/promise/connection.js, capture_local_err.js): 70 µs
 * of Node CPU per statement, 0.7 ms of a 6 ms chart read (tools/bench/act-cpu.ts
 * under --cpu-prof, 2026-12-03). The stack would only have named the driver's
 * frames in an error that {@link sanitise} replaces anyway.
 */
interface DriverConnection {
  execute(sql: string, values: unknown[], callback: DriverCallback): unknown
  query(sql: string, callback: DriverCallback): unknown
  destroy(): void
}

/** Runs `send` with a callback as a promise of the result (rows or an OkPacket). */
function driverCall(send: (callback: DriverCallback) => unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    send((err, result) => (err ? reject(err) : resolve(result)))
  })
}

/** What a statement observer is told: never SQL values, only the operation's name. */
export interface StatementEvent {
  readonly operation: string
  /** Destroys the connection the statement is about to run on (fault injection). */
  readonly destroyConnection: () => void
}

let statementObserver: ((event: StatementEvent) => void | Promise<void>) | undefined

/**
 * Fault-injection seam for tests: `observer` runs before every statement of this
 * path. The crash tests destroy the connection at each statement boundary in turn
 * and check that nothing is lost. Unset (the default) it costs one comparison.
 */
export function observeStatements(
  observer: ((event: StatementEvent) => void | Promise<void>) | undefined,
): void {
  statementObserver = observer
}

/** Compiles with knex; the result keeps `?` placeholders and separate bindings. */
export function compile(statement: Compilable): CompiledStatement {
  if ('toSQL' in statement && typeof statement.toSQL === 'function') {
    const native = statement.toSQL().toNative()
    return { sql: native.sql, bindings: native.bindings }
  }
  return statement as CompiledStatement
}

/**
 * Runs a statement as a server-side prepared statement (mysql2 `execute()`), on the
 * transaction's own connection when given one, else on a pooled connection.
 *
 * Why not knex's own execution: knex sends `connection.query()` with values
 * interpolated client-side, so a key shows up in performance_schema, the
 * processlist and knex's error message; `execute()` keeps `?` in all three
 * (docs/threat-model.md, where a key passed as a value shows up).
 *
 * Errors leave as {@link DatabaseError} built from codes only: no bound value in
 * its message, fields, `cause` or stack. A statement refused by the mode check
 * of its envelope expressions (mode-guard.ts) leaves as a ConfigurationError.
 */
async function execute(
  db: Executor,
  statement: Compilable,
  operation: string,
): Promise<unknown> {
  const { sql, bindings } = compile(statement)
  // On a transaction, knex's client hands back that transaction's connection and
  // its release is a no-op (knex lib/execution/transaction.js makeTxClient).
  // A subscriber here would receive this statement's keys and PHI as values.
  const listening = subscribedValueChannels()
  if (listening.length > 0) {
    throw new ConfigurationError(
      `refusing to run: ${listening.join(', ')} has a subscriber in this process (an APM or ` +
        'tracing agent?) that would receive bound keys and patient data; exclude mysql2 from it',
    )
  }
  let connection: DriverConnection
  try {
    connection = (await db.client.acquireConnection()) as DriverConnection
  } catch (err) {
    throw sanitise(err, operation)
  }
  try {
    if (statementObserver) {
      await statementObserver({
        operation,
        destroyConnection: () => connection.destroy(),
      })
    }
    // mysql2 throws synchronously on an undefined bind value; the executor of
    // driverCall's promise turns that into a rejection, so it is sanitised too.
    return await driverCall((done) => connection.execute(sql, [...bindings], done))
  } catch (err) {
    if (isModeRefusal(err, sql))
      throw modeRefusalError(operation, await modeOf(connection))
    throw sanitise(err, operation)
  } finally {
    await db.client.releaseConnection(connection)
  }
}

/**
 * The connection's block_encryption_mode, for the refusal's message: one more
 * round trip, on the error path only.
 */
async function modeOf(connection: DriverConnection): Promise<string | undefined> {
  try {
    const rows = await driverCall((done) =>
      connection.query('SELECT @@session.block_encryption_mode AS mode', done),
    )
    const mode = (rows as { mode?: unknown }[])[0]?.mode
    return typeof mode === 'string' ? mode : undefined
  } catch {
    return undefined
  }
}

/** Runs a SELECT as a prepared statement and returns its rows. */
export async function selectRows<Row>(
  db: Executor,
  statement: Compilable,
  operation = 'query',
): Promise<Row[]> {
  return (await execute(db, statement, operation)) as Row[]
}

/** Runs an INSERT, UPDATE or DELETE as a prepared statement. */
export async function executeWrite(
  db: Executor,
  statement: Compilable,
  operation = 'write',
): Promise<WriteResult> {
  const result = (await execute(db, statement, operation)) as { affectedRows?: number }
  return { affectedRows: result.affectedRows ?? 0 }
}

interface DriverError {
  code?: unknown
  errno?: unknown
  sqlState?: unknown
  message?: unknown
}

/** Index name from `Duplicate entry '…' for key 'table.name'`; the entry itself is dropped. */
function duplicateKeyName(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined
  const match = /for key '([A-Za-z0-9_.$]+)'$/.exec(message)
  return match?.[1]
}

/**
 * Turns a driver error into a DatabaseError that carries only codes. Our own
 * errors pass through. The new error is created here, so its stack names this
 * call site and not the driver's message.
 */
export function sanitise(err: unknown, operation: string): VaultError {
  if (err instanceof VaultError) return err
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverError
  const driverCode = typeof e.code === 'string' ? e.code : 'UNKNOWN'
  return new DatabaseError(
    {
      driverCode,
      errno: typeof e.errno === 'number' ? e.errno : undefined,
      sqlState: typeof e.sqlState === 'string' ? e.sqlState : undefined,
      constraint: driverCode === 'ER_DUP_ENTRY' ? duplicateKeyName(e.message) : undefined,
    },
    operation,
  )
}
