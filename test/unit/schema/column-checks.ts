import { expect } from '../../support/chai.js'
import { IntegrityError, ValidationError } from '../../../src/errors/index.js'

/** What `work` throws (fails the test when it returns). */
export function thrown(work: () => unknown): unknown {
  try {
    work()
  } catch (err) {
    return err
  }
  return expect.fail('expected a throw')
}

/**
 * Asserts `work` throws a ValidationError (code VALIDATION) about `field` whose
 * message matches `rule` and holds none of `secrets` (the refused value).
 */
export function expectValidation(
  work: () => unknown,
  field: string,
  rule: RegExp,
  secrets: readonly string[] = [],
): void {
  const err = thrown(work)
  expect(err).to.be.instanceOf(ValidationError)
  const v = err as ValidationError
  expect(v.code).to.equal('VALIDATION')
  expect(v.field).to.equal(field)
  expect(v.message).to.match(rule)
  for (const secret of secrets) expect(v.message).not.to.include(secret)
}

/** Asserts `work` throws an IntegrityError whose message holds none of `secrets`. */
export function expectIntegrity(
  work: () => unknown,
  secrets: readonly string[] = [],
): void {
  const err = thrown(work)
  expect(err).to.be.instanceOf(IntegrityError)
  expect((err as IntegrityError).code).to.equal('INTEGRITY')
  for (const secret of secrets) expect((err as Error).message).not.to.include(secret)
}
