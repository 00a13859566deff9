import { OpenFailedError } from '../crypto/open-failed-error.js'
import { IntegrityError, ValidationError, VaultError } from '../errors/index.js'

/**
 * crypto/ throws built-in errors (it imports nothing of the project); services
 * turn them into typed errors. Their messages name arguments and sizes only.
 */
export function asValidationError(err: unknown, field: string): unknown {
  if (err instanceof VaultError) return err
  if (err instanceof TypeError || err instanceof RangeError) {
    // crypto messages read `"name" must …` or `name must …`; keep the rule and
    // name the caller's field instead.
    const rule = err.message.replace(/^("[^"]*"|[A-Za-z_.]+)\s+(?=must|is )/, '')
    return new ValidationError(field, rule)
  }
  return err
}

/** A sealed or wrapped value that did not open is an integrity failure, named by `what`. */
export function asIntegrityError(err: unknown, what: string): unknown {
  if (err instanceof OpenFailedError)
    return new IntegrityError(`${what} failed its integrity check`)
  return err
}
