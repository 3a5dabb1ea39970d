// `hpc-bridge gateway`: run the gateway until SIGTERM/SIGINT; SIGHUP re-reads the TLS
// certificate (a renewed certificate without dropping sessions).
import type { HubBridgeConfig } from '../../config/schema.js';
import { createTransport } from '../bridge.js';
import { VERSION } from '../version.js';
import { startGateway } from './gateway.js';

export async function gatewayCommand(config: HubBridgeConfig, configFile: string | null): Promise<void> {
  const gateway = await startGateway(config, { transport: createTransport(config, { configFile }), version: VERSION });
  const g = config.gateway;
  process.stderr.write(
    `hpc-bridge ${VERSION} gateway listening on ${g.listen.host}:${gateway.port} for ${g.mode === 'subdomain' ? `https://<label>.${g.domain}/` : `https://${g.domain}/<label>/`} ` +
      `(${gateway.table.size} routes restored; audit log ${gateway.auditFile})\n`,
  );
  process.on('SIGHUP', () => {
    try {
      gateway.reloadCertificate();
      process.stderr.write('hpc-bridge gateway: certificate reloaded\n');
    } catch (err) {
      process.stderr.write(`hpc-bridge gateway: certificate NOT reloaded: ${(err as Error).message}\n`);
    }
  });
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
