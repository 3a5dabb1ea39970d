// The admin page's HTML from its view model (admin-view.ts): the live sessions table with a
// "Stop…" button per session, the recent failures (details folded), the usage summary with
// its period form, and the stop confirmation page. Plain forms: everything works without
// JavaScript, every value is escaped by the html tag.
import type { UsageLine } from '../../accounting/usage.js';
import { durationText } from '../../sessions/progress-messages.js';
import { html, raw, type Html } from '../html.js';
import { timeTag } from '../layout.js';
import { USAGE_GROUPS_SHOWN, type AdminView, type FailureRow, type LiveRow, type UsageSection } from './admin-view.js';

/** Where an admin acts on one session. */
export const stopPath = (prefix: string, id: string) => `${prefix}admin/sessions/${id}/stop`;

function liveTable(prefix: string, rows: readonly LiveRow[]): Html {
  if (!rows.length) return html`<p>No session is live right now.</p>`;
  const row = (r: LiveRow) => html`<tr data-session="${r.id}">
<td>${r.number}</td><td>${r.user}</td><td>${r.profile}</td><td class="wrap">${r.stateText}</td><td>${r.jobId ?? '—'}</td><td>${r.node ?? '—'}</td>
<td class="num">${r.queuePosition ?? '—'}</td><td>${r.age} <span class="muted">(${timeTag(r.createdAt)})</span></td>
<td>${r.wallLeft}${r.endsAt ? html` <span class="muted">(until ${timeTag(r.endsAt)})</span>` : ''}</td>
<td class="tone-${r.tunnel.tone}">${r.tunnel.text}</td>
<td>${r.stoppable ? html`<form class="inline" method="get" action="${stopPath(prefix, r.id)}"><button type="submit">Stop…</button></form>` : html`<span class="muted">stopping</span>`}</td>
</tr>`;
  return html`<table class="admin" id="live-sessions"><tr><th>#</th><th>User</th><th>Choice</th><th>State</th><th>Job</th><th>Node</th><th class="num">Queue position</th><th>Age</th><th>Wall time left</th><th>Tunnel</th><th></th></tr>
${rows.map(row)}</table>`;
}

function failuresTable(rows: readonly FailureRow[]): Html {
  if (!rows.length) return html`<p>No recent failures.</p>`;
  const row = (r: FailureRow) => html`<tr data-session="${r.id}">
<td>${timeTag(r.at, 'datetime')}</td><td>${r.user}</td><td>${r.profile}</td><td>${r.jobId ?? '—'}</td><td class="wrap">${r.reason}</td>
<td class="wrap">${r.sentence}${r.details ? html`<details><summary>Details and output tail</summary><pre>${r.details}</pre></details>` : ''}</td>
</tr>`;
  return html`<table class="admin" id="failures"><tr><th>When</th><th>User</th><th>Choice</th><th>Job</th><th>Reason</th><th>What the student read</th></tr>${rows.map(row)}</table>`;
}

const hours = (x: number) => x.toFixed(3);
const wait = (s: number | null) => (s === null ? '—' : durationText(s));

function usageTable(u: UsageSection): Html {
  const r = u.report;
  if (!r) return html``;
  if (!r.rows.length) return html`<p>No jobs were submitted in this period.</p>`;
  const line = (l: UsageLine, total = false) =>
    html`<tr${total ? raw(' class="total"') : ''} data-key="${l.key}"><td>${total ? html`<strong>Total</strong>` : l.key}</td><td class="num">${l.sessions}</td><td class="num">${l.jobs}</td><td class="num">${hours(l.cpuHours)}</td><td class="num">${hours(l.gpuHours)}</td><td class="num">${wait(l.medianQueueWaitSeconds)}</td></tr>`;
  return html`<table class="admin" id="usage"><tr><th>${r.by}</th><th class="num">Sessions</th><th class="num">Jobs</th><th class="num">CPU-hours</th><th class="num">GPU-hours</th><th class="num">Median queue wait</th></tr>
${r.rows.map((l) => line(l))}${line(r.total, true)}</table>`;
}

function usageSection(prefix: string, u: UsageSection): Html {
  const options = USAGE_GROUPS_SHOWN.map((g) => html`<option value="${g}"${g === u.form.by ? raw(' selected') : ''}>${g}</option>`);
  return html`<h2>Usage</h2>
<form class="usage-form" method="get" action="${prefix}admin/">
<label>From (00:00 UTC) <input type="date" name="from" value="${u.form.from}" required></label>
<label>To (00:00 UTC, not included; empty = now) <input type="date" name="to" value="${u.form.to}"></label>
<label>By <select name="by">${options}</select></label>
<button type="submit">Show</button>
</form>
${u.error ? html`<div class="card problem"><p>${u.error}</p></div>` : ''}
${usageTable(u)}
${u.report ? html`<p class="muted">${u.source} The same figures: <code id="usage-command">${u.command}</code> (or GET /v1/usage).</p>` : ''}`;
}

export function adminBody(prefix: string, v: AdminView, notice: string | null): Html {
  const counts = Object.entries(v.counts).map(([state, n]) => `${n} ${state}`).join(', ');
  return html`<h1>Notebook sessions on the cluster</h1>
${notice ? html`<div class="card notice" id="notice"><p>${notice}</p></div>` : ''}
<h2>Live sessions</h2>
<p class="muted">${v.live.length ? `${v.live.length} live: ${counts}.` : ''} As of ${timeTag(v.now)}; <a href="">reload</a> for the latest.</p>
${liveTable(prefix, v.live)}
<h2>Recent failures</h2>
${failuresTable(v.failures)}
${usageSection(prefix, v.usage)}`;
}

/** The confirmation step of a stop (a page of its own: it works without JavaScript). */
export function confirmStopBody(prefix: string, r: LiveRow, csrf: string): Html {
  const what = r.state === 'ready' || r.state === 'starting' ? `the notebook server of ${r.user} on ${r.node ?? 'the cluster'}` : `the start of ${r.user}'s server (it is ${r.state})`;
  return html`<h1>Stop session ${r.number} of ${r.user}?</h1>
<div class="card">
<p>This stops ${what}${r.jobId ? `: job ${r.jobId} is cancelled on the cluster` : ''}. Anything not saved in the notebook is lost; saved files are kept.</p>
<p>${r.user} will read that an administrator stopped it; the session's events name you.</p>
<table class="admin"><tr><th>Choice</th><td>${r.profile}</td></tr><tr><th>State</th><td>${r.stateText}</td></tr><tr><th>Age</th><td>${r.age}</td></tr><tr><th>Wall time left</th><td>${r.wallLeft}</td></tr></table>
<form method="post" action="${stopPath(prefix, r.id)}"><input type="hidden" name="_csrf" value="${csrf}">
<p><button type="submit">Stop session ${r.number}</button> <a href="${prefix}admin/">No, go back</a></p></form>
</div>`;
}
