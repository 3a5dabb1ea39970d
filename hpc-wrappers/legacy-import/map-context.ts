// What a mapping handler gets (the other options, the decisions several options depend
// on) and returns (a status, a note that says why, the keys it sets).
import { determineScheduler, type LegacyScheduler } from './legacy-scheduler.js';
import { parseBool, type LegacyOption } from './legacy-options.js';

export type Status = 'mapped' | 'changed' | 'not needed' | 'not mapped';
export type TargetFile = 'hpc' | 'hub';

export interface Target {
  file: TargetFile;
  path: string;
  value: unknown;
  /** Append the value's items to a list another option may also fill. */
  append?: true;
}

export interface Outcome {
  status: Status;
  note: string;
  set?: Target[];
}

export type Handler = (o: LegacyOption, ctx: MapContext) => Outcome;

export const hpc = (path: string, value: unknown, append?: true): Target => ({ file: 'hpc', path, value, ...(append ? { append } : {}) });
export const hub = (path: string, value: unknown): Target => ({ file: 'hub', path, value });
export const mapped = (note: string, ...set: Target[]): Outcome => ({ status: 'mapped', note, set });
export const changed = (note: string, ...set: Target[]): Outcome => ({ status: 'changed', note, set });
export const notNeeded = (note: string): Outcome => ({ status: 'not needed', note });
export const notMapped = (note: string): Outcome => ({ status: 'not mapped', note });

/** Why a value that the old scripts completed at run time cannot become a fixed config value, or null. */
export function runtimeOnly(o: LegacyOption): string | null {
  if (o.commandSubstitution) return 'its value runs a command ($(...) or `...`), and hpc-wrap never runs config values';
  if (o.unresolved.length) return `its value refers to ${o.unresolved.map((u) => `$${u}`).join(', ')}, which the old scripts filled in at run time`;
  return null;
}

/** A path without doubled or trailing slashes (the old files joined "$dir/" + "/x"). */
export const trimSlash = (p: string): string => {
  const single = p.replace(/\/{2,}/g, '/');
  return single.length > 1 ? single.replace(/\/+$/, '') : single;
};

export class MapContext {
  readonly tunnelOn: boolean;
  /** The scheduler the file's commands belong to (or why it cannot be told). */
  readonly scheduler: LegacyScheduler;
  readonly containerOn: boolean;
  readonly overlayOn: boolean;

  constructor(
    readonly options: readonly LegacyOption[],
    readonly generation: 'shell' | 'ini',
    readonly source: string,
    schedulerOverride: string | null = null,
  ) {
    this.tunnelOn = this.bool('ssh_tunnel_api') === true;
    this.scheduler = determineScheduler((name) => this.value(name), schedulerOverride);
    const image = this.value('container_to_start_compute') ?? this.value('singularity_container_compute');
    this.containerOn = this.bool('use_singularity') === true && Boolean(image?.trim());
    const overlayWanted = generation === 'ini' ? this.bool('singularity_use_overlay') === true : this.has('overlay_size') || this.has('create_ext3_overlay_cmd');
    this.overlayOn = this.containerOn && overlayWanted;
  }

  option(name: string): LegacyOption | undefined {
    return this.options.find((o) => o.name === name);
  }
  has(name: string): boolean {
    return this.option(name) !== undefined;
  }
  value(name: string): string | undefined {
    return this.option(name)?.value;
  }
  bool(name: string): boolean | null {
    const v = this.value(name);
    return v === undefined ? null : parseBool(v);
  }

  /** The hub-side API URL: with the old tunnel, the hub end of it (127.0.0.1:<src port>). */
  hubApiUrl(): string | null {
    const legacy = this.value('jupyterhub_api_url') ?? this.value('external_hub_url');
    let path = '/hub/api';
    if (legacy) {
      try {
        path = new URL(legacy).pathname;
      } catch {
        /* the URL handler reports it */
      }
    }
    if (!this.tunnelOn) return legacy ?? null;
    const src = Number(this.value('ssh_tunnel_src_api_port') ?? 8081);
    return `http://127.0.0.1:${Number.isInteger(src) && src > 0 && src < 65536 ? src : 8081}${path}`;
  }

  /** Which option decides logging.level, and to what (log_level > enable_debug_mode > enable_logging). */
  logLevel(): { from: string; level: 'error' | 'warn' | 'info' | 'debug' } | null {
    const named = this.value('log_level')?.trim().toUpperCase();
    const table: Record<string, 'error' | 'warn' | 'info' | 'debug'> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'error' };
    if (named && table[named]) return { from: 'log_level', level: table[named] };
    if (this.bool('enable_debug_mode') === true) return { from: 'enable_debug_mode', level: 'debug' };
    if (this.bool('enable_logging') === false) return { from: 'enable_logging', level: 'error' };
    return null;
  }
}
