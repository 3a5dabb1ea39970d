// Reads job.json and secrets.json from the run dir's spool and deletes them (and the
// job script) at once: the secrets exist on disk only until the job starts.
import { readFileSync, rmSync } from 'node:fs';
import type { WebdavCredentials } from '../../config/schema-webdav.js';
import { unlinkQuiet } from '../json-files.js';
import { runDirPaths } from '../layout.js';
import { jobDescriptionSchema, secretsSchema, type JobDescription } from '../startjob/job-description.js';

export interface Spool {
  job: JobDescription;
  hubEnv: Record<string, string>;
  /** The tunnel agent's private key (SECRET), or null when the job has no tunnel. */
  tunnelPrivateKey: string | null;
  /** The spawn's WebDAV credentials (SECRET), or null. */
  webdavCredentials: WebdavCredentials | null;
}

function readOnce(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${what} ${file} is missing: the spool was already consumed (a requeued or restarted job cannot start again; start a new session) or never written`);
    }
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
  } finally {
    unlinkQuiet(file);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} ${file} is not valid JSON`);
  }
}

export function consumeSpool(runDir: string): Spool {
  const paths = runDirPaths(runDir);
  let secrets: unknown;
  let job: unknown;
  try {
    secrets = readOnce(paths.secretsFile, 'the secrets file');
    job = readOnce(paths.jobFile, 'the job description');
  } finally {
    unlinkQuiet(paths.secretsFile);
    unlinkQuiet(paths.jobFile);
    unlinkQuiet(paths.jobScript);
    // All of it, including a temporary file an interrupted startjob may have left.
    rmSync(paths.spoolDir, { recursive: true, force: true });
  }
  const j = jobDescriptionSchema.safeParse(job);
  if (!j.success) throw new Error(`the job description ${paths.jobFile} is not valid`);
  const s = secretsSchema.safeParse(secrets);
  if (!s.success) throw new Error(`the secrets file ${paths.secretsFile} is not valid`); // never show its content
  return { job: j.data, hubEnv: s.data.env, tunnelPrivateKey: s.data.tunnelPrivateKey, webdavCredentials: s.data.webdav };
}
