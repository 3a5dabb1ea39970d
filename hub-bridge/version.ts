declare const __HPC_BRIDGE_VERSION__: string | undefined;

/** The package version, inlined by the build; 'dev' when run from source. */
export const VERSION: string = typeof __HPC_BRIDGE_VERSION__ === 'string' ? __HPC_BRIDGE_VERSION__ : 'dev';
