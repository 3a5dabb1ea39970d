// hpc-wrap.yaml: per-user persistent overlay images. Owned by the container + overlay work.
import { z } from 'zod';

export const overlaySchema = z
  .object({
    enabled: z.boolean().default(false).describe('Give each user a persistent ext3 overlay image (mounted by the container runtime).'),
  })
  .strict()
  .prefault({})
  .describe('Per-user persistent overlays.');
export type OverlayConfig = z.infer<typeof overlaySchema>;
