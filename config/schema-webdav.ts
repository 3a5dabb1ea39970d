// hpc-wrap.yaml: a per-user WebDAV mount (davfs2). Owned by the modules/conda/WebDAV work.
import { z } from 'zod';

export const webdavSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Mount a WebDAV share for each server (davfs2).'),
  })
  .strict()
  .prefault({})
  .describe('WebDAV share mounted for the server.');
export type WebdavConfig = z.infer<typeof webdavSchema>;
