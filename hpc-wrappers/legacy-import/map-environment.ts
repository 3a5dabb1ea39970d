// Mapping of the legacy options about the notebook's environment: the Singularity
// container (a named environment "default" now), its binds and arguments, the per-user
// overlay, and WebDAV.
import { basename } from 'node:path';
import { parseBool, splitCommand, type LegacyOption } from './legacy-options.js';
import { perUserHomePath } from './per-user-path.js';
import { changed, hpc, mapped, notMapped, notNeeded, runtimeOnly, trimSlash, type Handler, type Outcome } from './map-context.js';

const C = 'environments.default.container';
const NO_CONTAINER = 'use_singularity is not true (or no compute container is given): notebooks run on the node directly';
const NO_OVERLAY = 'no overlay: overlays are mounted by the container runtime, and the container or the overlay is off';

/** A handler that applies only when the import makes a container environment. */
const withContainer =
  (h: Handler): Handler =>
  (o, ctx) =>
    ctx.containerOn ? h(o, ctx) : notNeeded(NO_CONTAINER);
const withOverlay =
  (h: Handler): Handler =>
  (o, ctx) =>
    ctx.overlayOn ? h(o, ctx) : notNeeded(NO_OVERLAY);

function image(key: string): Handler {
  return withContainer((o) => {
    const why = runtimeOnly(o);
    if (why) return notMapped(why);
    if (!o.value.trim()) return notNeeded('empty: GPU jobs use the compute image');
    return mapped('', hpc(`${C}.${key}`, o.value.trim()));
  });
}

/** "src[:dst[:opts]]" items (Singularity's --bind syntax) as extraBinds entries. */
function binds(list: string[]): { binds: { source: string; target: string | null; mode: 'ro' | 'rw' }[]; skipped: string[] } {
  const out: { source: string; target: string | null; mode: 'ro' | 'rw' }[] = [];
  const skipped: string[] = [];
  for (const item of list.map((s) => s.trim()).filter(Boolean)) {
    if (item.includes('$')) {
      skipped.push(`${item.replace(/\/{2,}/g, '/')} (refers to a run-time variable)`);
      continue;
    }
    const [src, dst, opts] = item.split(':');
    if (!src?.startsWith('/') || (dst !== undefined && !dst.startsWith('/'))) {
      skipped.push(`${item} (not absolute paths)`);
      continue;
    }
    const source = trimSlash(src);
    const target = dst ? trimSlash(dst) : null;
    out.push({ source, target: target === source ? null : target, mode: opts?.split(',').includes('ro') ? 'ro' : 'rw' });
  }
  return { binds: out, skipped };
}

const bindExtra: Handler = withContainer((o) => {
  const r = binds(o.value.split(','));
  const skipped = r.skipped.length ? `; left out: ${r.skipped.join('; ')}` : '';
  if (!r.binds.length) return notMapped(`no bind could be kept${skipped}`);
  return changed(`each "src:dst:opts" item is an entry {source, target, mode} now (Singularity's default mode rw is kept)${skipped}`, hpc(`${C}.extraBinds`, r.binds, true));
});

const extraArgs: Handler = withContainer((o, ctx) => {
  // v1.3 split this option on ',' into argv elements; the shell generation on spaces.
  const words = (ctx.generation === 'ini' ? o.value.split(',') : [o.value]).flatMap((part) => splitCommand(part).words);
  if (!words.length) return notNeeded('empty');
  const bindItems: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if ((w === '--bind' || w === '-B') && words[i + 1]) bindItems.push(...words[++i]!.split(','));
    else if (w.startsWith('--bind=')) bindItems.push(...w.slice(7).split(','));
    else args.push(w);
  }
  const set = [];
  const b = binds(bindItems);
  if (b.binds.length) set.push(hpc(`${C}.extraBinds`, b.binds, true));
  if (args.length) set.push(hpc(`${C}.extraArgs`, args));
  if (!set.length) return notMapped(`nothing usable: ${b.skipped.join('; ')}`);
  const skipped = b.skipped.length ? `; left out: ${b.skipped.join('; ')}` : '';
  return changed(`--bind values became extraBinds entries, the rest extraArgs (one argv element each)${skipped}`, ...set);
});

const loadCommand: Handler = withContainer((o) => {
  const { words, syntax } = splitCommand(o.value);
  if (syntax || words[0] !== 'module' || words[1] !== 'load' || words.length < 3) {
    return notMapped('hpc-wrap runs no shell commands to load the runtime; name the modules that provide it in environments.default.container.loadModules');
  }
  return changed(`"${o.value}" → loadModules ${JSON.stringify(words.slice(2))}: hpc-wrap loads them through Lmod on the node`, hpc(`${C}.loadModules`, words.slice(2)));
});

const useSingularity: Handler = (o, ctx) => {
  const b = parseBool(o.value);
  if (b === null) return notMapped(`"${o.value}" is not true or false`);
  if (!b) return notNeeded('false is the default: no environments, the server runs on the node');
  if (!ctx.containerOn) return notMapped('no compute container is given (container_to_start_compute / singularity_container_compute)');
  return changed(
    'the container is part of a named software environment "default" now, the one used when a profile names none',
    hpc('environments.default.description', `Imported from ${ctx.source}`),
    hpc('defaultEnvironment', 'default'),
  );
};

const overlaySize: Handler = withOverlay((o, ctx) => {
  const n = Number(o.value.trim());
  if (!Number.isInteger(n) || n < 16 || n > 1024 * 1024) return notMapped(`"${o.value}" is not a size in MiB from 16 to 1048576`);
  const set = [hpc('overlays.sizeMiB', n)];
  if (ctx.generation === 'shell') set.unshift(hpc('overlays.enabled', true));
  return changed('a sparse file of this size: disk space is used only as the user fills it', ...set);
});

const overlayLocation: Handler = withOverlay((o, ctx) => {
  const why = runtimeOnly(o);
  if (why) return notMapped(why);
  if (ctx.value('singularity_overlay_c')?.trim() === 'spec') return changed('mode spec: the one shared image (read-only)', hpc('overlays.specImage', o.value.trim()));
  return mapped('the per-user images are <location>/<escaped user>.img', hpc('overlays.location', trimSlash(o.value.trim())));
});

const mkfs: Handler = withOverlay((o, ctx) => {
  const { words, syntax } = splitCommand(o.value);
  const program = words[0];
  if (syntax || !program || program.includes('$')) return notMapped(syntax ? `"${syntax}" needs a shell` : runtimeOnly(o) ?? 'no program');
  const argv = basename(program) === 'mke2fs' ? [program, '-t', 'ext3'] : [program];
  const set = [hpc('overlays.mkfs', argv)];
  if (ctx.generation === 'shell') set.unshift(hpc('overlays.enabled', true)); // the shell generation always made one
  return changed(`→ ${JSON.stringify(argv)}: hpc-wrap appends -F -q -d <dir with upper/ and work/> <image> itself (the rest of "${o.value}" was that)`, ...set);
});

const webdavFlag: Handler = (o) => {
  const b = parseBool(o.value);
  if (b === false) return notNeeded('false is the default');
  return notMapped('webdav.enabled needs the share: the old URL came from the spawn form (WDURL); set webdav.url (or allowedUrlPrefixes for URLs a spawn may send), then webdav.enabled: true');
};

const webdavMountDir: Handler = (o, ctx) => {
  const inHome = perUserHomePath(o.value, ctx);
  if (inHome) return changed(`{home} stands for the per-user home now (was ${ctx.value('home_dir')?.trim()}/$JUPYTERHUB_USER)`, hpc('webdav.mountDir', inHome));
  const why = runtimeOnly(o);
  return why ? notMapped(`${why}; only a path below the per-user home (<home_dir>/$JUPYTERHUB_USER/...) maps, to {home}/...`) : mapped('', hpc('webdav.mountDir', trimSlash(o.value.trim())));
};

const notNeededAs = (note: string): Handler => () => notNeeded(note);
const WDFS = 'wdfs took the password in its argv (visible in ps); hpc-wrap mounts with davfs2 (webdav.mountCommand) and a 0600 credentials file';
const SPAWN_SECRET = 'the spawn\'s WebDAV credentials travel in the startjob document (a secret), never in the config';

export const ENVIRONMENT_HANDLERS: Record<string, Handler> = {
  use_singularity: useSingularity,
  container_to_start_compute: image('image'),
  singularity_container_compute: image('image'),
  container_to_start_gpu: image('gpuImage'),
  singularity_container_gpu: image('gpuImage'),
  cmd_load_singularity: loadCommand,
  singularity_bind_fix: notNeededAs('its binds (jh_batchspawner_singleuser_replace, jh_starttunnel) are gone: hpc-wrap reads the port and runs the tunnel outside the container'),
  singularity_bind: notNeededAs('the merge of singularity_bind_fix and singularity_bind_extra'),
  singularity_bind_extra: bindExtra,
  singularity_no_mount: withContainer((o) => (o.value.trim() ? mapped('', hpc(`${C}.noMount`, o.value.split(',').map((s) => s.trim()).filter(Boolean))) : notNeeded('empty'))),
  singularity_home_dir: withContainer((o) => (o.value.trim() ? mapped('', hpc(`${C}.home`, trimSlash(o.value.trim()))) : notNeeded('empty'))),
  singularity_extra_args: extraArgs,

  overlay_size: overlaySize,
  singularity_overlay_size: overlaySize,
  singularity_use_overlay: (o, ctx): Outcome => {
    const b = parseBool(o.value);
    if (b === null) return notMapped(`"${o.value}" is not true or false`);
    return ctx.containerOn ? mapped('', hpc('overlays.enabled', b)) : notNeeded(NO_CONTAINER);
  },
  singularity_overlay_c: withOverlay((o) => (['auto', 'spec'].includes(o.value.trim()) ? mapped('', hpc('overlays.mode', o.value.trim())) : notMapped(`"${o.value}" is not auto or spec`))),
  singularity_overlay_location: overlayLocation,
  overlay_location: withOverlay(() =>
    changed('per-user images are <overlays.location>/<escaped user>.img now (default <workDir>/overlays): move existing images there, or users start with a new one'),
  ),
  create_overlay_cmd: withOverlay(() => changed('no dd: hpc-wrap creates a sparse file of overlays.sizeMiB itself')),
  create_ext3_overlay_cmd: mkfs,

  enable_webdav: webdavFlag,
  webdav_command: () => notMapped(WDFS),
  webdav_cmd: () => notMapped(WDFS),
  webdav_cmd_args: () => notMapped(WDFS),
  webdav_cmd_env: () => notMapped(WDFS),
  webdav_mount_dir: webdavMountDir,
  webdav_mount_dir_container: (o) => (o.value.trim() ? mapped('', hpc('webdav.containerPath', trimSlash(o.value.trim()))) : notNeeded('empty')),
  _WDURL: notNeededAs(SPAWN_SECRET),
  _WDUN: notNeededAs(SPAWN_SECRET),
  _WDT: notNeededAs(SPAWN_SECRET),
};

/** Options whose values are never shown in a report. */
export const SECRET_OPTIONS = /priv_key|password|passwd|token|secret|^_WDT$|^_WDUN$/i;

export function isSecretOption(o: LegacyOption): boolean {
  return SECRET_OPTIONS.test(o.name);
}
