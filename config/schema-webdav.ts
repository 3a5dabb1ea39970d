// hpc-wrap.yaml: a per-user WebDAV mount (davfs2). Owned by the modules/conda/WebDAV work;
// implemented by hpc-wrappers/start-env/webdav-step.ts.
import { z } from 'zod';

const noControl = (s: string) => !/[\0-\x1f\x7f]/.test(s);

const argv = (what: string) =>
  z
    .array(z.string().min(1).refine((s) => !s.includes('\0'), 'must not contain NUL'))
    .min(1)
    .describe(`${what} (an argv array; never run through a shell)`);

/** http(s)://host[:port][/path]: no credentials, query, fragment, spaces or control characters. */
export const WEBDAV_URL_RE = /^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[^\s?#\\"]*)?$/;

const webdavUrl = z
  .string()
  .max(2048)
  .refine(noControl, 'must not contain control characters')
  .refine(
    (u) => WEBDAV_URL_RE.test(u.replaceAll('{user}', 'u').replaceAll('{escapedUser}', 'u')),
    'must be http(s)://host[:port]/path without user:password@, ?query or #fragment',
  )
  .refine((u) => !/^https?:\/\/[^/]*\{/.test(u), 'placeholders are allowed in the path only');

/** A davfs2 mount option: name or name=value, no commas (they separate options). */
const mountOption = z
  .string()
  .regex(/^[a-z_]+(=[A-Za-z0-9_.:\/+-]+)?$/, 'one mount option such as uid=1000, file_mode=0600 or ro (no commas)')
  .refine((o) => !/^(conf|username)(=|$)/.test(o), 'conf and username are set by hpc-wrap (credentials go to a 0600 secrets file)');

export const webdavSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Mount a WebDAV share for each server (davfs2) and unmount it when the server ends.'),
    url: webdavUrl
      .nullable()
      .default(null)
      .describe(
        'The share to mount, e.g. https://dav.example.org/remote.php/dav/files/{user}/. {user} = the JupyterHub user name as is (davfs2 %-encodes the path itself), {escapedUser} = its file-name-safe form. A spawn may send its own URL only under allowedUrlPrefixes.',
      ),
    allowedUrlPrefixes: z
      .array(webdavUrl)
      .default([])
      .describe('URL prefixes a spawn may choose its own share under (startjob `webdav.url`); [] = only `url`.'),
    required: z
      .boolean()
      .default(true)
      .describe('true: a spawn without credentials fails; false: it starts without the share (and the job output says so).'),
    credentialsFile: z
      .string()
      .min(2)
      .refine(noControl, 'must not contain control characters')
      .nullable()
      .default(null)
      .describe(
        'Credentials when the spawn sends none: a file of the job user (mode 0600 or stricter) with the user name on the first line and the password on the second. {home} = the per-user home. null = only the spawn\'s credentials.',
      ),
    mountDir: z
      .string()
      .min(2)
      .refine(noControl, 'must not contain control characters')
      .refine((p) => p.startsWith('/') || p.startsWith('{home}/') || p.startsWith('{runDir}/'), 'must be absolute or start with {home}/ or {runDir}/')
      .nullable()
      .default(null)
      .describe('Mount point on the node (made 0700 if missing), e.g. {home}/WebDAV. null = <run dir>/webdav (unique per session).'),
    containerPath: z
      .string()
      .regex(/^\/[^,:\0\n\r]*$/, "an absolute path without ',' or ':'")
      .nullable()
      .default(null)
      .describe('Where the container step binds the mount inside a container (e.g. /home/jovyan/WebDAV); null = the same path as on the node.'),
    mountCommand: argv('The mount command')
      .default(['mount', '-t', 'davfs'])
      .describe('Mount command (argv); hpc-wrap appends -o conf=<0600 file>[,options] <url> <mountDir>. Runs as the job user: ordinary users need a site wrapper or an fstab entry (see mount.davfs(8)).'),
    umountCommand: argv('The unmount command').default(['umount']).describe('Unmount command (argv); hpc-wrap appends the mount point.'),
    options: z.array(mountOption).default([]).describe('Further davfs2 mount options (-o), e.g. ["uid=1000", "file_mode=0600", "dir_mode=0700"].'),
    davfsConfig: z
      .record(z.string().regex(/^[a-z_]+$/, 'a davfs2.conf option name').refine((k) => k !== 'secrets', 'secrets is set by hpc-wrap'), z.union([z.string().regex(/^[^\0\n\r]*$/), z.number()]))
      .default({})
      .describe('Extra davfs2.conf(5) options for the mount, e.g. {delay_upload: 0, use_locks: 0}. ask_auth is always 0.'),
    timeoutSeconds: z.number().min(1).max(600).default(30).describe('A mount (or unmount) that takes longer is killed; a mount that times out fails the spawn.'),
  })
  .strict()
  .prefault({})
  .superRefine((c, ctx) => {
    if (c.enabled && c.url === null && c.allowedUrlPrefixes.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when enabled (or allow spawns to choose one with allowedUrlPrefixes)' });
    }
  })
  .describe('WebDAV share mounted for the server (pc2 enable_webdav; davfs2).');
export type WebdavConfig = z.infer<typeof webdavSchema>;

/** What a spawn may send in the startjob document (`webdav`): SECRET like env. */
export const webdavCredentialsSchema = z
  .object({
    url: webdavUrl.refine((u) => !u.includes('{'), 'placeholders are for the config only').optional(),
    username: z
      .string()
      .min(1, 'username must not be empty')
      .max(256)
      .refine(noControl, 'username must not contain control characters'),
    password: z
      .string()
      .min(1, 'password must not be empty')
      .max(1024)
      .refine((s) => !/[\0\n\r]/.test(s), 'password must not contain NUL or line breaks'),
  })
  .strict();
export type WebdavCredentials = z.infer<typeof webdavCredentialsSchema>;
