/**
 * The one error class the crypto layer defines: a sealed, wrapped or MACed value did
 * not open.
 *
 * Its message is fixed and generic on purpose. Saying *why* (bad tag, bad padding,
 * wrong length, low-order point) would hand an attacker an oracle (Vaudenay's CBC
 * padding oracle is the classic case), and it carries no `cause` for the same reason.
 * Callers map it to their own typed errors (integrity error, wrong password, ...).
 */
export class OpenFailedError extends Error {
  /** Stable code for callers that match on codes rather than classes. */
  readonly code = 'OPEN_FAILED'
  override readonly name = 'OpenFailedError'

  constructor() {
    super('could not open the value: authentication failed or the input is malformed')
  }
}
