// Submits one job of a launch: the first one (from `hpc-wrap launch` on the login node) or
// a keep-alive successor (from the running job itself). Each submission gets its own run
// dir (jobs/<n>/) with the spool start-env reads, the submitted script, and the job output;
// the job carries the launch's comment, which binds it to the gateway route.
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { formatComment } from '../../contract/launch.js';
import type { HpcWrapConfig } from '../../config/schema.js';
import { shQuote } from '../startjob/batch-script.js';
import type { JobDescription } from '../startjob/job-description.js';
import { unlinkQuiet, writeJsonAtomic } from '../json-files.js';
import { ensureDir, runDirPaths } from '../layout.js';
import type { SchedulerAdapter } from '../schedulers/types.js';
import { selfCommand } from '../self-command.js';
import type { LaunchPaths } from './launch-paths.js';
import { recordSubmission, type LaunchRecord } from './launch-record.js';

export const SUBMITTED_SCRIPT = 'submitted.sh';

/** The job script: hpc-wrap's `launch-env` on the node, every word single-quoted, nothing user-controlled but paths. */
export function renderLaunchScript(hpcWrap: readonly string[], configPath: string | null, runDir: string): string {
  const words = [...hpcWrap, ...(configPath ? ['--config', configPath] : []), 'launch-env', '--run-dir', runDir];
  return ['#!/bin/sh', '# hpc-wrap launch: starts Jupyter in the environment chosen at launch (docs/launch.md)', `exec ${words.map(shQuote).join(' ')}`, ''].join('\n');
}

/** job.json for start-env: the launch's environment and server, frozen at submit time. */
export function launchJobDescription(cfg: HpcWrapConfig, rec: LaunchRecord, logFile: string, gpuVariables: readonly string[]): JobDescription {
  return {
    version: 1,
    sessionId: rec.id,
    user: rec.user,
    serverName: '',
    command: [...cfg.launch.jupyterCommand[rec.interface]],
    home: null,
    environment: rec.environment,
    gpus: rec.resources.gpus,
    gpuVariables: [...gpuVariables],
    overlay: null,
    jupyter: { bindAddress: rec.bindAddress, portRange: cfg.jupyter.portRange },
    tunnel: null,
    webdav: null,
    logFile,
    // launch-env reads hpc-wrap.yaml anyway (the launch's own options)
    runtime: null,
    createdAt: new Date().toISOString(),
  };
}

export interface SubmitLaunchJobInput {
  cfg: HpcWrapConfig;
  configPath: string | null;
  paths: LaunchPaths;
  rec: LaunchRecord;
  scheduler: SchedulerAdapter;
  /** Submission number (1 = the first). */
  n: number;
  afterJob: string | null;
}

export async function submitLaunchJob(input: SubmitLaunchJobInput): Promise<{ jobId: string; runDir: string }> {
  const { cfg, paths, rec, n } = input;
  ensureDir(paths.jobsDir(rec.id), 0o700);
  const runDir = paths.runDir(rec.id, n);
  ensureDir(runDir, 0o700);
  const p = runDirPaths(runDir);
  ensureDir(p.spoolDir, 0o700);
  // No hub: the server's env is the job's own; secrets.json stays for start-env's format.
  writeJsonAtomic(p.secretsFile, { env: {}, tunnelPrivateKey: null, webdav: null }, 0o600);
  writeJsonAtomic(p.jobFile, launchJobDescription(cfg, rec, paths.logFile, input.scheduler.gpuVariables), 0o600);
  const script = join(runDir, SUBMITTED_SCRIPT);
  writeFileSync(script, renderLaunchScript(cfg.job.hpcWrapCommand ?? selfCommand(), input.configPath, runDir), { mode: 0o700 });
  chmodSync(script, 0o700);
  const env: Record<string, string> = { HPC_WRAP_RUN_DIR: runDir };
  if (input.configPath) env.HPC_WRAP_CONFIG = input.configPath;
  try {
    const { jobId } = await input.scheduler.submit({
      name: `${cfg.launch.jobName}-${rec.id}`,
      scriptPath: script,
      outputPath: p.outputLog,
      chdir: rec.notebookDir,
      resources: rec.resources,
      env,
      marker: formatComment(rec.secretHash),
      afterJob: input.afterJob,
    });
    recordSubmission(runDir, jobId, input.afterJob);
    return { jobId, runDir };
  } catch (err) {
    unlinkQuiet(p.secretsFile);
    unlinkQuiet(p.jobFile);
    throw err;
  }
}
