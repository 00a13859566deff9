import type { Knex } from 'knex'
import { envelopeTablesOf } from '../../src/repositories/envelope-tables.js'
import { CHART_TABLES } from '../../src/schema/chart-tables.js'
import { listCatalog } from '../../src/schema/catalog.js'
import type { EnvelopeTable } from '../../src/sql/reseal-rows-sql.js'

/** Every table holding envelopes in the test database: the chart and the catalog's. */
export async function envelopeTablesIn(db: Knex): Promise<EnvelopeTable[]> {
  return envelopeTablesOf(CHART_TABLES, await listCatalog(db))
}
