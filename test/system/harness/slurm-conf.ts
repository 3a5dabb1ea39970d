// Renders slurm.conf for a one-node harness cluster living entirely in `dir`.
import os from 'node:os';
import path from 'node:path';

export interface SlurmConfInput {
  dir: string;
  clusterName: string;
  nodeName: string;
  ctldPort: number;
  slurmdPort: number;
  mungeSocket: string;
  cpus: number;
  realMemoryMB: number;
  defMemPerCPU: number;
  /** Seconds; also bounds how long a client waits for a dead controller. */
  messageTimeout: number;
  extraConf: string[];
  /** slurm.conf lines for slurmdbd accounting (slurmdbd.ts accountingConfLines); null = none. */
  accounting?: string[] | null;
}

/** `hostname -s`, derived at runtime (the machines' names differ). */
export function shortHostname(): string {
  return os.hostname().split('.')[0] || 'localhost';
}

/** Memory to declare: the machine's, capped at 8000 MB, at least 1024 MB. */
export function defaultRealMemoryMB(): number {
  return Math.max(1024, Math.min(8000, Math.floor(os.totalmem() / 1024 / 1024) - 256));
}

export function slurmPaths(dir: string) {
  return {
    conf: path.join(dir, 'slurm.conf'),
    state: path.join(dir, 'state'),
    spool: path.join(dir, 'spool'),
    log: path.join(dir, 'log'),
    munge: path.join(dir, 'munge'),
    ctldPid: path.join(dir, 'slurmctld.pid'),
    slurmdPid: path.join(dir, 'slurmd.pid'),
    ctldLog: path.join(dir, 'log', 'slurmctld.log'),
    slurmdLog: path.join(dir, 'log', 'slurmd.log'),
    ctldOut: path.join(dir, 'log', 'slurmctld.out'),
    slurmdOut: path.join(dir, 'log', 'slurmd.out'),
    info: path.join(dir, 'harness-slurm.json'),
  };
}

export function renderSlurmConf(c: SlurmConfInput): string {
  const p = slurmPaths(c.dir);
  const lines = [
    '# Written by test/system/harness/slurm.ts; a one-node test cluster.',
    `ClusterName=${c.clusterName}`,
    `SlurmctldHost=${c.nodeName}(127.0.0.1)`,
    `SlurmctldPort=${c.ctldPort}`,
    `SlurmdPort=${c.slurmdPort}`,
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${c.mungeSocket}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    `StateSaveLocation=${p.state}`,
    `SlurmdSpoolDir=${p.spool}`,
    `SlurmctldPidFile=${p.ctldPid}`,
    `SlurmdPidFile=${p.slurmdPid}`,
    `SlurmctldLogFile=${p.ctldLog}`,
    `SlurmdLogFile=${p.slurmdLog}`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core_Memory',
    'JobAcctGatherType=jobacct_gather/none',
    ...(c.accounting ?? ['AccountingStorageType=accounting_storage/none']),
    'MpiDefault=none',
    'SwitchType=switch/none',
    'MailProg=/bin/true',
    'ReturnToService=2',
    `MessageTimeout=${c.messageTimeout}`,
    'TCPTimeout=2',
    'SlurmctldTimeout=10',
    'SlurmdTimeout=300',
    'KillWait=5',
    'InactiveLimit=0',
    'SlurmdParameters=config_overrides',
    `DefMemPerCPU=${c.defMemPerCPU}`,
    ...c.extraConf,
    `NodeName=${c.nodeName} NodeAddr=127.0.0.1 CPUs=${c.cpus} RealMemory=${c.realMemoryMB} State=UNKNOWN`,
    `PartitionName=debug Nodes=${c.nodeName} Default=YES MaxTime=INFINITE State=UP`,
  ];
  return lines.join('\n') + '\n';
}
