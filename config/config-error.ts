// A configuration file with problems: the file and every problem (key path, value given,
// what is allowed). Its own module so that code which only reports failures (start-env in
// every job) does not load the config schema with it.
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem(s) in the configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
