// One SSH key pair per job for the notebook tunnel. The private key goes to the job (in
// the startjob document's `tunnel.privateKey`, then the spool's 0600 secrets file); the
// public key goes into the keyset that sshd's AuthorizedKeysCommand consults.
//
// Built from node:crypto and encoded here in OpenSSH's own format: ssh2's
// utils.generateKeyPairSync('ed25519') drops a leading zero byte of the public key now and
// then (about 1 key in 200 came out 31 bytes long, which neither ssh2 nor OpenSSH accept).
import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface TunnelKeyPair {
  /** `ssh-ed25519 AAAA…` (type and base64 blob, no comment): the keyset's form. */
  publicKey: string;
  /** `-----BEGIN OPENSSH PRIVATE KEY-----…`, unencrypted: SECRET. */
  privateKey: string;
}

const TYPE = 'ssh-ed25519';

function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The SSH wire blob of an ed25519 public key (32 bytes). */
export function ed25519PublicBlob(pub: Buffer): Buffer {
  if (pub.length !== 32) throw new Error(`an ed25519 public key has 32 bytes, not ${pub.length}`);
  return Buffer.concat([sshString(TYPE), sshString(pub)]);
}

/** PROTOCOL.key: "openssh-key-v1", no cipher, one key, private section padded to 8 bytes. */
export function opensshPrivateKey(seed: Buffer, pub: Buffer, comment = ''): string {
  if (seed.length !== 32) throw new Error(`an ed25519 private key seed has 32 bytes, not ${seed.length}`);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(TYPE), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(ed25519PublicBlob(pub)),
    sshString(priv),
  ]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

export function generateTunnelKey(): TunnelKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  return { publicKey: `${TYPE} ${ed25519PublicBlob(pub).toString('base64')}`, privateKey: opensshPrivateKey(seed, pub) };
}
