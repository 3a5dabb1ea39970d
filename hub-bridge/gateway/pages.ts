// The gateway's own pages: the waiting page (the job's live state, refreshed by the
// browser every few seconds until the notebook answers instead), "ended", and one refusal
// page for every request without a valid link or cookie (the same for a guessed label and
// a used link, so it tells nothing about which labels exist). No script, every value escaped.
import type { ServerResponse } from 'node:http';
import type { RoutePhase, Route } from './route.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.state{font-size:1.15rem;margin:1.5rem 0;padding:1rem;border-left:4px solid #4a7;background:#f4faf6}
.muted{color:#666;font-size:.9rem}code{background:#eee;padding:.1rem .3rem}`;

function page(title: string, body: string, refreshSeconds: number | null): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : '',
    `<title>${esc(title)}</title><style>${STYLE}</style></head><body>`,
    body,
    '</body></html>',
  ].join('');
}

export interface WaitingView {
  phase: RoutePhase;
  route: Route;
  schedulerError: string | null;
}

function when(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

/** The sentence the waiting page shows (also the `state` of /_hpcwrap/state). */
export function stateText(v: WaitingView): string {
  const j = v.route.live.job;
  switch (v.phase) {
    case 'queued': {
      if (!j) return 'Checking your job with the scheduler…';
      const parts = [`Your job ${j.id} is queued`];
      if (j.position) parts.push(`position ${j.position} in the queue`);
      const start = when(j.estimatedStart);
      if (start) parts.push(`estimated start ${start}`);
      return `${parts.join(', ')}${j.reason ? ` (${j.reason})` : ''}.`;
    }
    case 'starting':
      if (v.route.live.port === null) return `Your job ${j?.id ?? ''} is running on ${j?.node ?? 'its node'}: preparing the environment and starting Jupyter…`;
      return `Your job ${j?.id ?? ''} is running on ${j?.node ?? 'its node'}: starting Jupyter…`;
    case 'unverified':
      return `The scheduler is not answering right now${v.schedulerError ? '' : ''}; the session continues as soon as it does.`;
    case 'ended':
      return `This session has ended (${v.route.live.endReason ?? 'the job is over'}).`;
    case 'ready':
      return 'Jupyter is ready.';
  }
}

export function waitingPage(v: WaitingView): string {
  const phase = v.phase;
  const refresh = phase === 'ended' ? null : 2;
  const detail = v.route.live.probeError && phase === 'starting' ? `<p class="muted">Last check: ${esc(v.route.live.probeError)}</p>` : '';
  const more =
    phase === 'ended'
      ? '<p>Start a new one on the login node with <code>hpc-wrap launch</code>.</p>'
      : '<p class="muted">This page refreshes itself and becomes your notebook when it is ready. You can close it and come back: this browser stays signed in to this session.</p>';
  return page(
    phase === 'ended' ? 'Session ended' : 'Waiting for your notebook',
    `<h1>${phase === 'ended' ? 'Session ended' : 'Your Jupyter session'}</h1><div class="state" id="state" data-phase="${esc(phase)}">${esc(stateText(v))}</div>${detail}${more}`,
    refresh,
  );
}

export function refusedPage(): string {
  return page(
    'Link not valid',
    '<h1>This link is not valid here</h1><p>A session link works once, in one browser. If it was yours, make a new one on the login node:</p><p><code>hpc-wrap url --new</code></p><p class="muted">Links are made by <code>hpc-wrap launch</code>.</p>',
    null,
  );
}

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

export function sendPage(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...PAGE_HEADERS, ...headers, 'content-length': Buffer.byteLength(html) });
  res.end(res.req?.method === 'HEAD' ? undefined : html);
}
