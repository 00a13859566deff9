import type { Knex } from 'knex'

/**
 * The tamper-evident audit log.
 *
 * `audit_log` holds one row per audited act; each row carries
 * `mac = HMAC-SHA256(auditKey, "emr-vault/audit/v1" ‖ previous row's mac ‖ the row)`
 * (src/crypto/audit-mac.ts). The audit key lives in the deployment's
 * configuration, never in the database, so someone who can write these tables
 * cannot rebuild a consistent chain.
 *
 * - `seq` is assigned by the application under the head-row lock, not by
 *   AUTO_INCREMENT: the chain is 1, 2, 3, … with no gap, so a gap or a
 *   reordering is itself evidence. (AUTO_INCREMENT leaves gaps on rollback and
 *   its values can be set by anyone who can INSERT.)
 * - `occurred_at` is written by the application (the server's clock, read while
 *   the head is locked) because the MAC covers it to the millisecond.
 * - `reason` is the free text a clinician gives for break-glass access. It is
 *   documented to callers as "must not contain PHI" (a reason such as
 *   "unconscious patient in ED, no registered clinician on shift" is fine; a
 *   diagnosis or a name is not). `detail` holds short non-PHI facts such as
 *   `v2->v3`. No key material or PHI goes in any column.
 * - No foreign keys: audit rows must outlive the users and patients they name
 *   (HIPAA §164.316(b)(2)(i) keeps documentation for 6 years), and a cascade
 *   must never be able to delete audit rows.
 *
 * `audit_chain_head` is a single row (id = 1) naming the last row of the chain:
 * `last_seq`, `last_mac`, and `head_mac = HMAC-SHA256(auditKey,
 * "emr-vault/audit-head/v1" ‖ uint64be(last_seq) ‖ last_mac)`, so it cannot be
 * moved forward or back by someone without the key. Appends lock this row
 * (`SELECT … FOR UPDATE`): it is the serialisation point of the chain.
 *
 * Genesis (this migration has no key, so the first head cannot be keyed): the
 * head is seeded with `last_seq = 0`, `last_mac` = 32 zero bytes (the "previous
 * mac" of row 1) and `head_mac` = 32 zero bytes, which marks the unkeyed genesis
 * head. It is accepted only together with `last_seq = 0` and the zero
 * `last_mac`; the first append replaces it with a keyed head. The same values
 * are AUDIT_GENESIS_* in src/crypto/audit-mac.ts (test/audit pins them equal).
 */

/** The tables' names: the defaults below, or a private pair (tests build their own chains). */
export interface AuditTableNames {
  readonly log: string
  readonly head: string
}

const DEFAULT_NAMES: AuditTableNames = { log: 'audit_log', head: 'audit_chain_head' }

/** 32 zero bytes: `last_mac` and `head_mac` of the genesis head (see above). */
const GENESIS = Buffer.alloc(32)

function innodb(t: Knex.CreateTableBuilder): void {
  t.engine('InnoDB')
  t.charset('utf8mb4')
  // Binary collation: stored text reads back exactly and filters compare exactly.
  t.collate('utf8mb4_bin')
}

/** Creates an audit log and its head under the given names, with the genesis head. */
export async function createAuditTables(
  knex: Knex,
  names: AuditTableNames = DEFAULT_NAMES,
): Promise<void> {
  await knex.schema.createTable(names.log, (t) => {
    innodb(t)
    t.bigInteger('seq').unsigned().notNullable().primary()
    t.specificType('occurred_at', 'DATETIME(3)').notNullable()
    t.specificType('actor_user_id', 'BINARY(16)').nullable()
    t.string('action', 40).notNullable()
    t.specificType('patient_id', 'BINARY(16)').nullable()
    t.specificType('target_user_id', 'BINARY(16)').nullable()
    t.enu('outcome', ['success', 'denied', 'failure']).notNullable()
    t.string('reason', 500).nullable()
    t.string('detail', 200).nullable()
    t.specificType('mac', 'BINARY(32)').notNullable()
    // Reports by patient, actor, time and action; InnoDB appends the primary key
    // (seq) to each, and it is named here so the order is explicit.
    t.index(['patient_id', 'seq'], `${names.log}_by_patient`)
    t.index(['actor_user_id', 'seq'], `${names.log}_by_actor`)
    t.index(['occurred_at', 'seq'], `${names.log}_by_time`)
    t.index(['action', 'seq'], `${names.log}_by_action`)
  })

  await knex.schema.createTable(names.head, (t) => {
    innodb(t)
    t.tinyint('id').unsigned().notNullable().primary()
    t.bigInteger('last_seq').unsigned().notNullable()
    t.specificType('last_mac', 'BINARY(32)').notNullable()
    t.specificType('head_mac', 'BINARY(32)').notNullable()
    // CHECK constraint names are per schema in MySQL, hence the table-derived name.
    t.check('`id` = 1', [], `${names.head}_single_row`)
  })
  await knex(names.head).insert({
    id: 1,
    last_seq: 0,
    last_mac: GENESIS,
    head_mac: GENESIS,
  })
}

/** Drops a pair made by {@link createAuditTables}. */
export async function dropAuditTables(
  knex: Knex,
  names: AuditTableNames = DEFAULT_NAMES,
): Promise<void> {
  await knex.schema.dropTableIfExists(names.head)
  await knex.schema.dropTableIfExists(names.log)
}

export async function up(knex: Knex): Promise<void> {
  await createAuditTables(knex)
}

export async function down(knex: Knex): Promise<void> {
  await dropAuditTables(knex)
}
