// ONE way to write a host and port into a URL, for both programs: IPv6 literals in
// brackets (`[::1]:8000`), names and IPv4 as they are. Where the hub reaches a server (which
// host) is decided by the bridge (hub-bridge/sessions/server-address.ts); this only spells it.

/** host:port as a URL authority; an IPv6 literal in brackets (an already bracketed one kept). */
export function authority(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/** `scheme://host:port` + path (path given as it should appear, e.g. "/user/alice/"). */
export function hostUrl(scheme: 'http' | 'https' | 'ws' | 'wss', host: string, port: number, path = ''): string {
  return `${scheme}://${authority(host, port)}${path}`;
}
