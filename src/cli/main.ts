// The `emr-vault` process: the command line itself is main() in run.ts; this
// file adds what belongs to a process, signals and the exit code.
import { InterruptedError, type StopSignal } from './interrupt.js'

const interrupt = new AbortController()

function stop(signal: StopSignal): void {
  // The first signal decides: a terminal's Ctrl-C reaches this process and, under
  // npx, npm too, which passes it on again; the second copy changes nothing.
  if (!interrupt.signal.aborted) interrupt.abort(new InterruptedError(signal))
}

// Installed before the rest of the CLI is loaded, so that a signal arriving while
// it loads ends the run with 130 or 143 too.
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))

// Under npx this process is the child of a shell that npm started. A signal sent
// to npm alone (a supervisor stopping it, `timeout`) is passed to that shell, not
// to us, and SIGTERM kills the shell and leaves us running as an orphan: so under
// npx a change of parent is taken as the SIGTERM it is.
if (process.env['npm_command'] === 'exec') {
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) stop('SIGTERM')
  }, 1000).unref()
}

// `emr-vault … | head`: the reader went away; stop quietly instead of a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw e
})

const { main } = await import('./run.js')
process.exitCode = await main(process.argv.slice(2), undefined, {
  signal: interrupt.signal,
})
// An interrupted command may have left a prompt reading stdin or a statement
// running: end now, with the code main() returned for the signal.
if (interrupt.signal.aborted) process.exit(process.exitCode)
