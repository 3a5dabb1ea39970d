// Reads a bounded document from a stream: more than `limit` bytes is refused without
// buffering the rest.
import type { Readable } from 'node:stream';
import { WrapError } from '../errors.js';

export async function readBounded(stream: Readable & { isTTY?: boolean }, limit: number): Promise<string> {
  if (stream.isTTY) {
    throw new WrapError('invalid', 'startjob reads one JSON document on stdin; pipe it in (see `hpc-wrap startjob --help`)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) {
      stream.destroy();
      throw new WrapError('invalid', `the request on stdin is larger than ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
