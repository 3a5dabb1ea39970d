// How `hpc-wrap launch`, `url --new` and `stop` talk to the gateway: HTTPS with the
// gateway's certificate checked (system CAs plus launch.gateway.caFile), JSON bodies, a
// timeout. The route secret travels only in the request body over TLS.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import type { LaunchConfig } from '../../config/schema-launch.js';
import { API_PREFIX, apiErrorSchema, routeResponseSchema, type DeleteRequest, type RegisterRequest, type ReissueRequest, type RouteResponse } from '../../contract/launch.js';
import { WrapError } from '../errors.js';

type GatewaySettings = NonNullable<LaunchConfig['gateway']>;

export class GatewayClient {
  private readonly ca: string[] | undefined;

  constructor(private readonly gw: GatewaySettings) {
    if (gw.caFile) {
      let pem: string;
      try {
        pem = readFileSync(gw.caFile, 'utf8');
      } catch (err) {
        throw new WrapError('internal', `cannot read launch.gateway.caFile ${gw.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      this.ca = [...rootCertificates, pem];
    }
  }

  private post<T extends z.ZodType>(path: string, body: unknown, schema: T): Promise<z.infer<T>> {
    const url = new URL(`${API_PREFIX}${path}`, this.gw.url);
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          ca: this.ca,
          timeout: this.gw.timeoutSeconds * 1000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (text.length < 64 * 1024) text += d;
          });
          res.on('end', () => {
            let doc: unknown;
            try {
              doc = JSON.parse(text);
            } catch {
              doc = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              const parsed = schema.safeParse(doc);
              if (parsed.success) return resolve(parsed.data);
              return reject(new WrapError('internal', `the gateway ${this.gw.url} answered ${status} with an unexpected document`));
            }
            const e = apiErrorSchema.safeParse(doc);
            const why = e.success ? e.data.error.message : `HTTP ${status}`;
            reject(new WrapError(status >= 500 ? 'internal' : 'invalid', `the gateway refused: ${why}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.gw.timeoutSeconds} s`)));
      req.on('error', (err) =>
        reject(err instanceof WrapError ? err : new WrapError('internal', `cannot reach the gateway ${this.gw.url} (launch.gateway.url in hpc-wrap.yaml): ${err.message}`)),
      );
      req.end(payload);
    });
  }

  register(body: RegisterRequest): Promise<RouteResponse> {
    return this.post('/routes', body, routeResponseSchema);
  }

  reissue(body: ReissueRequest): Promise<RouteResponse> {
    return this.post('/routes/token', body, routeResponseSchema);
  }

  async remove(body: DeleteRequest): Promise<void> {
    await this.post('/routes/delete', body, z.object({ removed: z.boolean() }));
  }
}
