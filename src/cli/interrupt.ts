/**
 * Ctrl-C, SIGINT and SIGTERM. The entry point turns the signal into an abort of
 * the run's AbortSignal with an {@link InterruptedError} as the reason; a long
 * job that can stop at a consistent point (rotate --all, between two patients)
 * watches that signal itself, any other command is cut off where it is (its
 * transaction, if any, is rolled back by the server when the connection goes).
 * Either way the run ends with the shell's code for the signal, 128 + its number.
 */

export type StopSignal = 'SIGINT' | 'SIGTERM'

export const SIGNAL_EXIT_CODES: Readonly<Record<StopSignal, number>> = {
  SIGINT: 130,
  SIGTERM: 143,
}

export class InterruptedError extends Error {
  constructor(readonly signal: StopSignal) {
    super(`interrupted (${signal})`)
    this.name = 'InterruptedError'
  }

  get exitCode(): number {
    return SIGNAL_EXIT_CODES[this.signal]
  }
}

/** Why `signal` was aborted, as an InterruptedError (SIGINT when it does not say). */
export function interruption(signal: AbortSignal): InterruptedError {
  const reason: unknown = signal.reason
  return reason instanceof InterruptedError ? reason : new InterruptedError('SIGINT')
}

/** A promise that rejects with the interruption once `signal` is aborted. */
export function rejectOnAbort(signal: AbortSignal): {
  promise: Promise<never>
  dispose: () => void
} {
  let onAbort = () => {}
  const promise = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(interruption(signal))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) }
}
