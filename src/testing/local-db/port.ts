import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * The server's TCP port: picked once by letting the kernel choose a free loopback
 * port, remembered in the state dir so connection settings stay the same across
 * restarts, and replaced only if something else has taken it meanwhile.
 */

export const HOST = '127.0.0.1'

/** True if nothing listens on 127.0.0.1:`port` (we can bind it ourselves). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen({ host: HOST, port, exclusive: true }, () =>
      probe.close(() => resolve(true)),
    )
  })
}

/** A port the kernel considers free right now (bind to port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen({ host: HOST, port: 0, exclusive: true }, () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() =>
        port ? resolve(port) : reject(new Error('Could not get a free port')),
      )
    })
  })
}

export function rememberedPort(portFile: string): number | undefined {
  try {
    const port = Number.parseInt(readFileSync(portFile, 'utf8').trim(), 10)
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined
  } catch {
    return undefined
  }
}

/** The remembered port if still free, else a new one (remembered from now on). */
export async function choosePort(
  portFile: string,
  log: (line: string) => void,
): Promise<number> {
  const previous = rememberedPort(portFile)
  if (previous !== undefined && (await isPortFree(previous))) return previous
  const port = await freePort()
  if (previous !== undefined)
    log(`port ${previous} is taken by another program; using ${port}`)
  writeFileSync(portFile, `${port}\n`)
  return port
}
