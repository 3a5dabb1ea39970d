// The notebook server's settings for a launch job, as JSON config files in a fresh
// JUPYTER_CONFIG_DIR (0700, files 0600): the token, base URL, address and port never go
// into argv, and the user's own ~/.jupyter cannot switch the token off. One file per
// program family, each read only by its own: jupyter_notebook_config.json (classic
// notebook 6, NotebookApp), jupyter_server_config.json (JupyterLab, notebook 7, Voilà
// >= 0.5 on jupyter_server: ServerApp + IdentityProvider), voila.json (Voilà).
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../json-files.js';

export interface JupyterSettings {
  token: string;
  /** '/' (subdomain mode, ssh -L) or '/<label>/' (path mode). */
  baseUrl: string;
  ip: string;
  port: number;
  notebookDir: string;
}

export function jupyterConfigFiles(s: JupyterSettings): Record<string, unknown> {
  const common = {
    token: s.token,
    password: '',
    base_url: s.baseUrl,
    ip: s.ip,
    port: s.port,
    port_retries: 0,
    open_browser: false,
    // The gateway sends the route's own Host; the node's name is not it.
    allow_remote_access: true,
    trust_xheaders: true,
  };
  return {
    'jupyter_notebook_config.json': { NotebookApp: { ...common, notebook_dir: s.notebookDir } },
    'jupyter_server_config.json': { ServerApp: { ...common, root_dir: s.notebookDir }, IdentityProvider: { token: s.token } },
    'voila.json': { Voila: { ip: s.ip, port: s.port, base_url: s.baseUrl, open_browser: false, root_dir: s.notebookDir } },
  };
}

/** Writes the files into `dir` (made 0700) and returns it; the caller sets JUPYTER_CONFIG_DIR. */
export function writeJupyterConfig(dir: string, s: JupyterSettings): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const [name, content] of Object.entries(jupyterConfigFiles(s))) writeJsonAtomic(join(dir, name), content, 0o600);
  return dir;
}

export function removeJupyterConfig(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
