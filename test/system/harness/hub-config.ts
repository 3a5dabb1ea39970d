// Renders jupyterhub_config.py for a harness hub living in one directory.
import path from 'node:path';

export interface HubConfigInput {
  dir: string;
  port: number;
  hubPort: number;
  proxyApiPort: number;
  token: string;
  serviceName: string;
  pollInterval: number;
  startTimeout: number;
  httpTimeout: number;
  cleanupServers: boolean;
  logLevel: string;
  /** Python lines appended at the end (spawner class and its settings). */
  spawnerClassConfig: string;
}

/** A Python string literal (JSON strings are valid Python literals). */
export const py = (s: string): string => JSON.stringify(s);

export function hubPaths(dir: string) {
  return {
    config: path.join(dir, 'jupyterhub_config.py'),
    db: path.join(dir, 'jupyterhub.sqlite'),
    cookieSecret: path.join(dir, 'jupyterhub_cookie_secret'),
    log: path.join(dir, 'jupyterhub.log'),
    hubPid: path.join(dir, 'jupyterhub.pid'),
    proxyPid: path.join(dir, 'jupyterhub-proxy.pid'),
    info: path.join(dir, 'harness-hub.json'),
    homes: path.join(dir, 'homes'),
  };
}

export function renderHubConfig(c: HubConfigInput): string {
  const p = hubPaths(c.dir);
  return `# Written by test/system/harness/jupyterhub.ts
c = get_config()  # noqa
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = ${c.port}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${c.hubPort}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${c.proxyApiPort}'
c.ConfigurableHTTPProxy.pid_file = ${py(p.proxyPid)}
c.JupyterHub.db_url = ${py('sqlite:///' + p.db)}
c.JupyterHub.cookie_secret_file = ${py(p.cookieSecret)}
c.JupyterHub.pid_file = ${py(p.hubPid)}
c.JupyterHub.authenticator_class = 'dummy'
c.JupyterHub.cleanup_servers = ${c.cleanupServers ? 'True' : 'False'}
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.log_level = ${py(c.logLevel)}
c.JupyterHub.services = [{'name': ${py(c.serviceName)}, 'api_token': ${py(c.token)}}]
c.JupyterHub.load_roles = [{
    'name': 'harness-admin',
    'description': 'test harness service: drives users and servers',
    'scopes': ['admin:users', 'admin:servers', 'access:servers', 'read:hub', 'proxy', 'tokens'],
    'services': [${py(c.serviceName)}],
}]
c.Spawner.poll_interval = ${c.pollInterval}
c.Spawner.start_timeout = ${c.startTimeout}
c.Spawner.http_timeout = ${c.httpTimeout}

# ---- spawner (from the caller)
${c.spawnerClassConfig}
`;
}

/**
 * JupyterHub's SimpleLocalProcessSpawner: jupyterhub-singleuser as the hub's own
 * user (root here, hence --allow-root), homes under <dir>/homes/<user>.
 */
export function simpleSpawnerConfig(dir: string): string {
  const homes = hubPaths(dir).homes;
  return [
    "c.JupyterHub.spawner_class = 'simple'",
    `c.SimpleLocalProcessSpawner.home_dir_template = ${py(homes + '/{username}')}`,
    "c.Spawner.args = ['--allow-root']",
    "c.Spawner.cmd = ['/usr/bin/jupyterhub-singleuser']",
  ].join('\n');
}
