// The spawn's WebDAV credentials, checked on the login node so that a URL the cluster
// does not allow fails the spawn at once (exit 2) instead of in the job.
import type { WebdavConfig } from '../../config/schema-webdav.js';
import { WrapError } from '../errors.js';
import { resolveWebdavUrl } from '../webdav-target.js';
import type { StartJobRequest } from '../../contract/startjob.js';

export function checkWebdavRequest(cfg: WebdavConfig, req: Pick<StartJobRequest, 'webdav' | 'user'>): void {
  if (!req.webdav) return;
  if (!cfg.enabled) throw new WrapError('invalid', 'webdav: this cluster mounts no WebDAV shares (webdav.enabled is false in hpc-wrap.yaml); send no webdav credentials');
  try {
    resolveWebdavUrl(cfg, req.webdav.url, req.user);
  } catch (err) {
    throw new WrapError('invalid', (err as Error).message);
  }
}
