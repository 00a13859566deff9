import type { Knex } from 'knex'

/**
 * A rotate-all run: every patient whose current key version was made before
 * `cutoff` is rotated, one transaction per patient. A run that stopped half-way
 * (crash, Ctrl-C) is found again by the next call and finished with the same
 * cutoff, so patients already rotated are not rotated twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('key_rotation_runs', (t) => {
    t.engine('InnoDB')
    t.bigIncrements('id').primary()
    t.specificType('cutoff', 'DATETIME(3)').notNullable()
    t.specificType('started_by', 'BINARY(16)').notNullable().references('users.id')
    t.specificType('started_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
    t.specificType('finished_at', 'DATETIME(3)').nullable()
    t.integer('rotated').unsigned().notNullable().defaultTo(0)
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('key_rotation_runs')
}
