// Keys a configuration file may still carry from an earlier version, with what replaced
// them: `config check` names the replacement instead of "unknown key". Apart from the
// schemas, so that reporting them builds none.

/** Keys of the former system-sshd mode, with what replaced them (shown by `config check`). */
export const REMOVED_TUNNEL_KEYS: Record<string, string> = {
  sshHost: 'renamed tunnel.publicHost',
  sshPort: 'replaced by tunnel.listen.port (and tunnel.publicPort): the bridge runs its own SSH endpoint',
  hostKeyFiles: 'replaced by tunnel.hostKeyFile: the endpoint has its own host key, made on the first start',
  keysetFile: 'no longer used: no AuthorizedKeysCommand, the endpoint checks keys itself',
};
