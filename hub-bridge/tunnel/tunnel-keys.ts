// One SSH key pair per job for the notebook tunnel. The private key goes to the job (in
// the startjob document's secret part, then the spool's 0600 secrets file); the public
// key goes into the keyset that sshd's AuthorizedKeysCommand consults.
import ssh2 from 'ssh2';

export interface TunnelKeyPair {
  /** `ssh-ed25519 AAAA…` (type and base64 blob, no comment): the keyset's form. */
  publicKey: string;
  /** `-----BEGIN OPENSSH PRIVATE KEY-----…`, unencrypted: SECRET. */
  privateKey: string;
}

export function generateTunnelKey(): TunnelKeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  const [type, blob] = pair.public.trim().split(/\s+/);
  if (type !== 'ssh-ed25519' || !blob) throw new Error('ssh2 produced an unexpected public key format');
  return { publicKey: `${type} ${blob}`, privateKey: pair.private };
}
