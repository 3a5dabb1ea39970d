// hpc-wrap.yaml: per-user persistent overlay images. Owned by the container + overlay work.
import { z } from 'zod';
import { mountPath } from './schema-container.js';

const argv = z.array(z.string().min(1).refine((s) => !s.includes('\0'), 'must not contain NUL')).min(1);

export const overlaySchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe('Give each user a persistent ext3 overlay image, mounted by the container runtime (environments with a container only).'),
    mode: z
      .enum(['auto', 'spec'])
      .default('auto')
      .describe('auto: one image per user at <location>/<escaped user>.img, made on first use, mounted writable; spec: one shared image (specImage) mounted read-only.'),
    location: mountPath.nullable().default(null).describe('Directory of the per-user images (mode auto); null = <workDir>/overlays.'),
    specImage: mountPath.nullable().default(null).describe('mode spec: the shared ext3 image every session mounts read-only (made by the admin).'),
    sizeMiB: z
      .number()
      .int()
      .min(16)
      .max(1024 * 1024)
      .default(2048)
      .describe('Size of a new per-user image in MiB (a sparse file: disk space is used only as the user fills it).'),
    mkfs: argv
      .default(['mkfs.ext3'])
      .describe('Makes the file system (argv); hpc-wrap appends -F -q -d <dir with upper/ and work/> <image>. Needs e2fsprogs >= 1.43 (-d).'),
    fsck: argv.default(['e2fsck']).describe('Checks an image before each use (argv); hpc-wrap appends -n <image> (check) or -p <image> (repair).'),
    repair: z
      .boolean()
      .default(true)
      .describe('When the check fails, try `fsck -p` (journal replay, safe fixes) before moving the image aside and making a new one.'),
    whenInUse: z
      .enum(['without', 'fail'])
      .default('without')
      .describe("A second server of the same user while the first still uses the image: start it without the overlay (and say so), or fail. ext3 cannot be mounted writable twice."),
  })
  .strict()
  .prefault({})
  .superRefine((o, ctx) => {
    if (o.enabled && o.mode === 'spec' && o.specImage === null) {
      ctx.addIssue({ code: 'custom', path: ['specImage'], message: 'is required with mode spec: the path of the shared overlay image' });
    }
  })
  .describe('Per-user persistent overlays (ext3 images, like `apptainer overlay create`).');
export type OverlayConfig = z.infer<typeof overlaySchema>;
