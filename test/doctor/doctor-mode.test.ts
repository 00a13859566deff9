import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { createDb } from '../../src/db/index.js'
import { blockEncryptionModeCheck } from '../../src/services/doctor-mode.js'
import { runDoctor } from '../../src/services/doctor.service.js'
import { testDb, testDbConfig } from '../support/test-env.js'
import { check, rawKnex } from './doctor-support.js'

async function sessionMode(db: Knex): Promise<string> {
  const [rows] = (await db.raw('SELECT @@session.block_encryption_mode AS mode')) as [
    { mode: string }[],
  ]
  return rows[0]!.mode
}

describe('doctor: block_encryption_mode tests the pool it is given', () => {
  it('PASSes on createDb()’s pool: its connections in aes-256-cbc, a seal under aes-128-ecb refused', async () => {
    const line = await blockEncryptionModeCheck(testDb())
    expect(line.status, line.detail).to.equal('PASS')
    expect(line.detail).to.match(/in aes-256-cbc; a seal under aes-128-ecb is refused/)
    // The probe puts back the mode it found.
    expect(await sessionMode(testDb())).to.equal('aes-256-cbc')
  })

  it('runDoctor on a raw knex({ client: "mysql2" }) pool FAILs the line, naming the mode, and leaves the mode as found', async () => {
    const raw = rawKnex()
    try {
      const found = await sessionMode(raw)
      expect(found, "a plain knex connection runs in the server's default").not.to.equal(
        'aes-256-cbc',
      )
      const line = check(
        await runDoctor(raw, { production: false }),
        'block_encryption_mode',
      )
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.include(`run in ${found}, not aes-256-cbc`)
      expect(line.fix).to.include('createDb()')
      expect(await sessionMode(raw)).to.equal(found)
    } finally {
      await raw.destroy()
    }
  })

  it("FAILs on createDb()'s pool when the caller's raw SET switched an idle connection to ECB", async () => {
    const db = createDb({ ...testDbConfig(), poolMax: 1 })
    try {
      await db.raw("SET SESSION block_encryption_mode = 'aes-128-ecb'")
      const line = await blockEncryptionModeCheck(db)
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.match(/^1 of 1 idle pooled connections run in aes-128-ecb/)
    } finally {
      await db.destroy()
    }
  })
})
