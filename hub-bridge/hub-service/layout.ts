// The shared page shell of the bridge's hub service: header with the way back to the hub,
// the signed-in user, inline CSS (no CDN, no external file) and one small script that
// shows <time> elements in the browser's time zone. Both run under a per-response nonce
// (Content-Security-Policy, set by service-app.ts).
import { html, raw, type Html } from './html.js';
import type { HubUser } from './hub-oauth.js';

export interface PageContext {
  /** The service's path prefix, e.g. /services/hpc-bridge/ */
  prefix: string;
  /** JupyterHub's base_url, e.g. / */
  baseUrl: string;
  user: HubUser | null;
  /** The user may use the admin page (a link to it in the header). */
  admin: boolean;
  nonce: string;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.45}
header{background:#f37626;color:#fff;padding:.6em 1.2em;display:flex;gap:1em;align-items:center}
header a{color:#fff}
header .who{margin-left:auto}
main{max-width:52em;margin:1.5em auto;padding:0 1.2em}
main.wide{max-width:90em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em 1.2em;margin:0 0 1em}
.state{font-weight:600}
.sentence{font-size:1.05em}
.muted{color:#666}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #eee;vertical-align:top}
button{font:inherit;padding:.45em 1em;border-radius:4px;border:1px solid #b33;background:#c0392b;color:#fff;cursor:pointer}
pre{white-space:pre-wrap;background:#f4f4f4;padding:.6em;border-radius:4px;max-height:30em;overflow:auto}
.notice{background:#eef6ee;border-color:#9c9}
.problem{background:#fdf0ef;border-color:#e3a39c}
.admin td,.admin th{font-size:.92em;white-space:nowrap}
.admin td.wrap{white-space:normal}
.tone-ok{color:#1e7b34}
.tone-bad{color:#b3261e;font-weight:600}
.num{text-align:right}
form.inline{display:inline;margin:0}
.usage-form{display:flex;gap:1em;align-items:end;flex-wrap:wrap;margin:0 0 .8em}
.usage-form label{display:flex;flex-direction:column;font-size:.9em}
.usage-form button{background:#fff;color:#222;border-color:#999}
code{background:#f4f4f4;padding:.1em .3em;border-radius:3px}
`;

/** Turns <time datetime="ISO" data-style="clock|datetime"> into the browser's local time. */
const LOCAL_TIME_SCRIPT = `
document.querySelectorAll('time[datetime]').forEach(function (t) {
  var d = new Date(t.getAttribute('datetime'));
  if (isNaN(d)) return;
  var o = t.dataset.style === 'datetime' ? { dateStyle: 'medium', timeStyle: 'short' } : { hour: '2-digit', minute: '2-digit' };
  t.textContent = d.toLocaleString([], o);
  t.title = d.toISOString();
});
`;

export interface LayoutOptions {
  refreshSeconds?: number;
  /** What the header names (default: the student's pages). */
  section?: string;
  /** Room for wide tables (the admin page). */
  wide?: boolean;
}

export function layout(ctx: PageContext, title: string, body: Html, opts: LayoutOptions = {}): Html {
  const hubHome = `${ctx.baseUrl}hub/home`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${opts.refreshSeconds ? raw(`<meta http-equiv="refresh" content="${Math.round(opts.refreshSeconds)}">`) : ''}
<title>${title}</title>
<style nonce="${ctx.nonce}">${raw(CSS)}</style>
</head>
<body>
<header><a href="${hubHome}">← Back to the hub</a><span>${opts.section ?? 'Your notebook sessions'}</span>${ctx.admin ? html`<a href="${ctx.prefix}">Your sessions</a><a href="${ctx.prefix}admin/">Admin</a>` : ''}${ctx.user ? html`<span class="who">${ctx.user.name}</span>` : ''}</header>
<main${opts.wide ? raw(' class="wide"') : ''}>
${body}
</main>
<script nonce="${ctx.nonce}">${raw(LOCAL_TIME_SCRIPT)}</script>
</body>
</html>
`;
}

/** A time the page script shows in local time; UTC until then (and without scripts). */
export function timeTag(iso: string | null, style: 'clock' | 'datetime' = 'clock'): Html {
  if (!iso) return html``;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`${iso}`;
  const utc = style === 'clock' ? `${d.toISOString().slice(11, 16)} UTC` : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return html`<time datetime="${d.toISOString()}" data-style="${style}">${utc}</time>`;
}
