// JSON-lines logs on stderr. Keys that can hold secrets are redacted at the logger, so a
// careless call cannot leak them.
import { pino, type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { svc: 'hpc-bridge' },
      redact: {
        paths: ['env', '*.env', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'doc', '*.doc', 'password', '*.password', 'privateKey', '*.privateKey'],
        censor: '<redacted>',
      },
    },
    destination as DestinationStream,
  );
}
