import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { RUN_RECOVERY, TEST_AUDIT_KEY } from '../support/vault-fixture.js'

const BIN = fileURLToPath(new URL('../../bin/emr-vault.js', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the real `emr-vault` command as a child process against the test database
 * (the fixture's EMR_VAULT_DB_* are inherited) with the run's audit key and
 * recovery public key. `input` is written to its standard input.
 */
export function runCli(
  args: readonly string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        EMR_VAULT_AUDIT_KEY: TEST_AUDIT_KEY.toString('base64'),
        EMR_VAULT_RECOVERY_PUBLIC_KEY: RUN_RECOVERY.publicKey.toString('base64'),
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}
