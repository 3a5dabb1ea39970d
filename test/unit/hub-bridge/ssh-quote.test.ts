// The SSH transport's two pieces of pure logic: quoting argv into the one remote command
// string, and known_hosts parsing / matching / fingerprints (checked against ssh-keygen).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkHostKey,
  fingerprint,
  hostPattern,
  hostsFieldMatches,
  keyBlobType,
  knownHostsLine,
  parseKnownHosts,
} from '../../../contract/known-hosts.js';
import { remoteCommand, shellQuote } from '../../../hub-bridge/transport/ssh-quote.js';
import { TransportError } from '../../../hub-bridge/transport/types.js';

// Recorded with OpenSSH 9.2 (ssh-keygen -t ... ; ssh-keygen -lf ; ssh-keygen -H).
const ED25519 = 'AAAAC3NzaC1lZDI1NTE5AAAAILiwJ1b7YMNFqTeQiWh0ZVvO75JQN+8zbHrxidSvDFB1';
const ED25519_FP = 'SHA256:IqZ8/fXmQ3OaXSv1CWpKA0Vx5cBC1NbCk+jbRODJ5s8';
const ECDSA = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLPOIFkyvM007nnWXgetuvz6Qlj4wRP+2vZB1eNyJZ2lJ5p++E/M8EX3Sx9OBdeaTikBvdku/4fQHmJ+LWwv9lw=';
const ECDSA_FP = 'SHA256:s/PYwADi773EY1MMd2wbXObsueACvLvZgVmUXAHbnf4';
const RSA =
  'AAAAB3NzaC1yc2EAAAADAQABAAABAQDQUvZdOuY9P5zg67He1I2Xd7wsHeg8APzc62I8dPsL+oBxvTEd4yjUDKQ/b3un0YVPvdYeySxHl1BmPImY1Gqr5vACy3WPFAGuON6fnIfenS2H9cTnXahD9lA0A8gUmeMopCo7ZBnwCNkZZStBCk7PqSNfvyXIA/fSYI7MVJshBKYc4MyuMePqPnsIO4gqS9CwdO2sk4b8lyIYw+QYR95R81AVgmESwqqNvwx03IKHrgBIY0DMVXerOBO0iitQMgfgOz6G1qB6yERInCc9P2IR+xtj2B5ZAY6HU3j/YyWrTUnK40zoccxoT9N0eJVhj0ob5AW1UYtJTJ2I8sjlsGCX';
const RSA_FP = 'SHA256:xfvVeorQ5P4OFuab89S1a0nKzzXKcapEXdTWCZJnVdk';
// `[login.example.org]:2222 <ED25519>` and `cluster.example.org <ECDSA>`, hashed by ssh-keygen -H
const HASHED = [
  `|1|hpKBOmVUxFZ7nxCY7/dOEPHlojE=|sgcrZRRWHhwBPnMjC+qWiJc54yE= ssh-ed25519 ${ED25519}`,
  `|1|uSG8oExPYhpqpiW9IxCnBK5fzME=|XfJkL1XelTvMAjo13mYsqNcYzyM= ecdsa-sha2-nistp256 ${ECDSA}`,
].join('\n');

const blob = (b64: string) => Buffer.from(b64, 'base64');

function sh(shell: string, command: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(shell, ['-c', command], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

describe('remote command quoting', () => {
  it('single-quotes every argument and escapes quotes as \'\\\'\'', () => {
    expect(shellQuote('plain')).toBe("'plain'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(remoteCommand(['hpc-wrap', 'jobstate', '1;2', '$(id)'])).toBe(`'hpc-wrap' 'jobstate' '1;2' '$(id)'`);
  });

  it('refuses NUL, newline and carriage return, and an empty command', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\0b']) expect(() => shellQuote(bad)).toThrow(TransportError);
    expect(() => remoteCommand([])).toThrow(/empty command/);
    expect(() => remoteCommand([''])).toThrow(/empty command/);
  });

  const shells = ['/bin/sh', '/bin/bash', '/bin/dash'].filter((s) => existsSync(s));
  it.each(shells)('arrives as the same argv through %s -c', async (shell) => {
    const nasty = ["it's", '"', '\\', '$HOME', '`id`', '$(id)', 'a b  c', ';', '|', '&', '>x', '*', '~', '#', '!', '{a,b}', '', "'\\''", 'é😀', '-e', '\t'];
    const random = Array.from({ length: 200 }, () =>
      String.fromCharCode(...Array.from({ length: 1 + Math.floor(Math.random() * 8) }, () => 32 + Math.floor(Math.random() * 95))),
    );
    const args = [...nasty, ...random];
    const out = await sh(shell, remoteCommand([process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '--', ...args]));
    expect(JSON.parse(out)).toEqual(args);
  });
});

describe('known_hosts', () => {
  it('computes OpenSSH SHA256 fingerprints and key types of ed25519, ecdsa and rsa keys', () => {
    expect(fingerprint(blob(ED25519))).toBe(ED25519_FP);
    expect(fingerprint(blob(ECDSA))).toBe(ECDSA_FP);
    expect(fingerprint(blob(RSA))).toBe(RSA_FP);
    expect([ED25519, ECDSA, RSA].map((k) => keyBlobType(blob(k)))).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']);
  });

  const keygen = ['/usr/bin/ssh-keygen', '/bin/ssh-keygen'].find((p) => existsSync(p));
  it.skipIf(!keygen).each(['ed25519', 'ecdsa', 'rsa'])('matches ssh-keygen -lf for a fresh %s key', (type) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kh-'));
    try {
      const file = path.join(dir, 'key');
      execFileSync(keygen!, ['-q', '-t', type, '-N', '', '-f', file]);
      const pub = readFileSync(`${file}.pub`, 'utf8').split(' ');
      const expected = execFileSync(keygen!, ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
      expect(fingerprint(blob(pub[1]!))).toBe(expected);
      expect(keyBlobType(blob(pub[1]!))).toBe(pub[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches plain names, [host]:port, comma lists, wildcards and negations', () => {
    expect(hostPattern('Login.Example.org', 22)).toBe('login.example.org');
    expect(hostPattern('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
    expect(hostsFieldMatches('login,10.0.0.1', 'login', 22)).toBe(true);
    expect(hostsFieldMatches('login,10.0.0.1', '10.0.0.1', 22)).toBe(true);
    expect(hostsFieldMatches('login', 'login', 2222)).toBe(false);
    expect(hostsFieldMatches('[login]:2222', 'login', 2222)).toBe(true);
    expect(hostsFieldMatches('[login]:2222', 'login', 22)).toBe(false);
    expect(hostsFieldMatches('*.example.org,!bad.example.org', 'login.example.org', 22)).toBe(true);
    expect(hostsFieldMatches('*.example.org,!bad.example.org', 'bad.example.org', 22)).toBe(false);
    expect(hostsFieldMatches('login?', 'login1', 22)).toBe(true);
    expect(hostsFieldMatches('login.example.org', 'loginXexample.org', 22)).toBe(false);
  });

  it('matches hashed |1|salt|hash entries written by ssh-keygen -H', () => {
    const entries = parseKnownHosts(HASHED);
    expect(entries).toHaveLength(2);
    expect(hostsFieldMatches(entries[0]!.hosts, 'login.example.org', 2222)).toBe(true);
    expect(hostsFieldMatches(entries[0]!.hosts, 'login.example.org', 22)).toBe(false);
    expect(hostsFieldMatches(entries[1]!.hosts, 'cluster.example.org', 22)).toBe(true);
    expect(checkHostKey(entries, 'login.example.org', 2222, blob(ED25519)).status).toBe('trusted');
  });

  it('skips comments, blank and malformed lines, keeping line numbers', () => {
    const text = [
      '# comment',
      '',
      'broken-line-without-key',
      `login ssh-ed25519 not*base64`,
      `login ssh-rsa ${ED25519}`, // type field does not match the blob
      `login,[login]:2222 ssh-ed25519 ${ED25519} a comment`,
      `@revoked * ssh-rsa ${RSA}`,
      `@cert-authority *.example.org ecdsa-sha2-nistp256 ${ECDSA}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker, e.hosts])).toEqual([
      [6, null, 'login,[login]:2222'],
      [7, '@revoked', '*'],
      [8, '@cert-authority', '*.example.org'],
    ]);
  });

  it('decides trusted / unknown / changed / revoked like OpenSSH', () => {
    const entries = parseKnownHosts(`[login]:2222 ssh-ed25519 ${ED25519}\n@revoked * ssh-rsa ${RSA}\n`);
    expect(checkHostKey(entries, 'login', 2222, blob(ED25519)).status).toBe('trusted');
    expect(checkHostKey(entries, 'other', 2222, blob(ED25519)).status).toBe('unknown');
    const changed = checkHostKey(entries, 'login', 2222, blob(ECDSA));
    expect(changed.status).toBe('changed');
    expect(changed.status === 'changed' && changed.known.map((e) => e.line)).toEqual([1]);
    expect(checkHostKey(entries, 'login', 2222, blob(RSA)).status).toBe('revoked');
  });

  it('writes the line cluster trust appends in OpenSSH form', () => {
    expect(knownHostsLine('127.0.0.1', 2222, blob(ED25519))).toBe(`[127.0.0.1]:2222 ssh-ed25519 ${ED25519}`);
    expect(knownHostsLine('Login', 22, blob(ED25519))).toBe(`login ssh-ed25519 ${ED25519}`);
  });
});
