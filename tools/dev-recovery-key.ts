// Development keys for seeds and the demo: the same ones the CLI uses.
export {
  devAuditKey,
  devRecoveryPublicKey,
  devSearchKey,
  DEV_RECOVERY_FILE,
} from '../src/cli/deployment-keys.js'
