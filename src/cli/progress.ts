import { errRaw, stderrIsTerminal } from './io.js'

/**
 * Progress of long work (rotate --all, audit verify and export): a bar with counts
 * and rate on a terminal, a plain line every few seconds otherwise. Written to
 * stderr so stdout stays the command's result.
 */
export class Progress {
  readonly #label: string
  readonly #tty = stderrIsTerminal()
  readonly #started = Date.now()
  #lastLine = 0

  constructor(label: string) {
    this.#label = label
  }

  update(done: number, total?: number): void {
    const now = Date.now()
    const seconds = Math.max((now - this.#started) / 1000, 0.001)
    const rate = `${(done / seconds).toFixed(1)}/s`
    if (this.#tty) {
      const width = 24
      const filled = total ? Math.round((done / Math.max(total, 1)) * width) : 0
      const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : ''
      errRaw(`\r${this.#label} ${bar}${done}${total ? `/${total}` : ''} ${rate}   `)
    } else if (now - this.#lastLine >= 2000) {
      this.#lastLine = now
      errRaw(`${this.#label}: ${done}${total ? ` of ${total}` : ''} (${rate})\n`)
    }
  }

  done(summary: string): void {
    if (this.#tty) errRaw('\n')
    errRaw(`${this.#label}: ${summary}\n`)
  }
}
