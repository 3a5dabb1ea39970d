// Host key check of the tunnel agent: the bridge's tunnel endpoint must present one of the
// keys the bridge put into the job (known_hosts lines). Nothing is trusted on first use. The
// known_hosts parsing is the hub side's (pure code, bundled into hpc-wrap).
import {
  algorithmsForKeyType,
  checkHostKey,
  fingerprint,
  hostsFieldMatches,
  keyBlobType,
  parseKnownHosts,
  type KnownHostEntry,
} from '../../contract/known-hosts.js';

export interface TunnelHostKeys {
  /** ssh2 hostVerifier: true only for a trusted key; a refusal message goes to onRefused. */
  verifier(onRefused: (message: string) => void): (key: Buffer) => boolean;
  /** Host key algorithms to offer, those of the known keys only. */
  algorithms: string[];
}

function describe(blob: Buffer): string {
  try {
    return `${keyBlobType(blob)} ${fingerprint(blob)}`;
  } catch {
    return `(unparsable key) ${fingerprint(blob)}`;
  }
}

export function tunnelHostKeys(lines: readonly string[], host: string, port: number): TunnelHostKeys {
  const entries: KnownHostEntry[] = parseKnownHosts(lines.join('\n'));
  const forHost = entries.filter((e) => e.marker === null && hostsFieldMatches(e.hosts, host, port));
  if (forHost.length === 0) {
    throw new Error(
      `the job's tunnel.hostKeys hold no usable known_hosts line for ${host}:${port} ` +
        '(check tunnel.publicHost and tunnel.publicPort in hub-bridge.yaml)',
    );
  }
  const known = forHost.map((e) => `${e.keyType} ${fingerprint(e.key)}`).join(', ');
  const algorithms = [...new Set(forHost.flatMap((e) => algorithmsForKeyType(e.keyType)))];
  return {
    algorithms,
    verifier: (onRefused) => (key: Buffer) => {
      const check = checkHostKey(entries, host, port, key);
      if (check.status === 'trusted') return true;
      onRefused(
        `REFUSED the hub's SSH host key at ${host}:${port}: it presented ${describe(key)}, ` +
          `but the bridge vouches only for ${known}${check.status === 'revoked' ? ' (this key is @revoked)' : ''}. ` +
          'This may be an attack, or the endpoint\'s key (tunnel.hostKeyFile) was replaced after this job was submitted: ask the hub administrators.',
      );
      return false;
    },
  };
}
