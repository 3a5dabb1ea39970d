// Which WebDAV URL a session mounts and where: used by startjob (to refuse a bad request
// before anything is submitted) and by start-env's WebDAV step (to mount it).
import { escapeName } from '../contract/names.js';
import type { WebdavConfig } from '../config/schema-webdav.js';

export function expandUserPlaceholders(template: string, user: string): string {
  return template.replaceAll('{user}', user).replaceAll('{escapedUser}', escapeName(user));
}

/** True when `url` is `prefix` or lies below it (a path boundary, not just a string prefix). */
function under(url: string, prefix: string): boolean {
  if (url === prefix) return true;
  return url.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** The URL to mount: the spawn's (only under allowedUrlPrefixes) or the configured one. */
export function resolveWebdavUrl(cfg: Pick<WebdavConfig, 'url' | 'allowedUrlPrefixes'>, requestUrl: string | null | undefined, user: string): string {
  if (requestUrl) {
    const allowed = cfg.allowedUrlPrefixes.map((p) => expandUserPlaceholders(p, user));
    if (!allowed.some((p) => under(requestUrl, p))) {
      throw new Error(
        allowed.length
          ? `webdav.allowedUrlPrefixes: the spawn's WebDAV URL is not under an allowed prefix (${allowed.join(', ')})`
          : 'webdav.allowedUrlPrefixes: spawns may not choose their own WebDAV URL on this cluster (the list is empty)',
      );
    }
    return requestUrl;
  }
  if (!cfg.url) throw new Error('webdav.url: not set, and the spawn sent no URL');
  return expandUserPlaceholders(cfg.url, user);
}

/** The mount point: webdav.mountDir with {home} / {runDir}, else <runDir>/webdav. */
export function resolveMountDir(cfg: Pick<WebdavConfig, 'mountDir'>, runDir: string, home: string | null): string {
  const t = cfg.mountDir;
  if (t === null) return `${runDir}/webdav`;
  if (t.startsWith('{home}/')) {
    if (!home) throw new Error('webdav.mountDir: uses {home}, but this cluster makes no per-user homes (homes.create)');
    return home + t.slice('{home}'.length);
  }
  if (t.startsWith('{runDir}/')) return runDir + t.slice('{runDir}'.length);
  return t;
}
