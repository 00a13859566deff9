import { ConfigurationError } from './configuration-error.js'

/**
 * What stopped emr-vault's migrations:
 * - `unknown-migrations`: the database records migrations this release does not
 *   have (a newer release migrated it, or its history was edited);
 * - `history-conflict`: the history is recorded twice, in `emr_vault_migrations`
 *   and under the old names in `knex_migrations`, or one name twice;
 * - `legacy-history`: knex was asked to run them on a database whose history is
 *   still under the old names in `knex_migrations` (emr-vault's own calls carry
 *   it over instead);
 * - `locked`: another process holds the migration lock (or one was killed holding it);
 * - `failed`: a migration itself failed.
 */
export type MigrationProblem =
  'unknown-migrations' | 'history-conflict' | 'legacy-history' | 'locked' | 'failed'

/**
 * The schema cannot be brought to this release's migrations as things stand.
 * A refused history changes nothing; a migration that fails part-way leaves the
 * ones before it applied and recorded, and, since MySQL commits each DDL
 * statement at once, whatever tables the failed one had created by then. A ConfigurationError, so callers and the
 * command line that handle those need nothing new; `problem` says which case.
 */
export class MigrationError extends ConfigurationError {
  constructor(
    readonly problem: MigrationProblem,
    message: string,
    /** Migration names involved: identifiers only. */
    readonly migrations: readonly string[] = [],
  ) {
    super(message)
  }
}
