// How one session reads on the hub service's pages: its state in a student's words (queue
// position, how long it has waited, the scheduler's worst-case start, until when it runs),
// the final message (sentence first, details folded), and what the student can do.
import type { Profile } from '../../../config/schema.js';
import { durationText, reasonText, splitMessage } from '../../sessions/progress-messages.js';
import type { Session, SessionEvent } from '../../sessions/types.js';
import { endsAt } from '../../sessions/types.js';
import { html, type Html } from '../html.js';
import { timeTag } from '../layout.js';

export const CANCELLABLE = new Set<Session['state']>(['submitting', 'queued', 'starting']);

export function choiceName(s: Session, profiles: readonly Profile[]): string {
  return profiles.find((p) => p.name === s.profile)?.displayName ?? s.profile;
}

function waited(s: Session, now: number): string {
  return durationText(Math.max(0, Math.round((now - Date.parse(s.createdAt)) / 1000)));
}

/** One line (or a few) saying where the session stands. */
export function stateLine(s: Session, now: number = Date.now()): Html {
  switch (s.state) {
    case 'submitting':
      return html`<p class="state">Being handed to the cluster (asked ${waited(s, now)} ago).</p>`;
    case 'queued': {
      const pos = s.queuePosition === null ? '' : s.queuePosition <= 1 ? 'next in line' : `${s.queuePosition - 1} job${s.queuePosition === 2 ? '' : 's'} ahead of yours`;
      const why = reasonText(s.reason);
      return html`<p class="state">Waiting in the queue for ${waited(s, now)}${pos ? html`: ${pos}` : ''}${why ? html` (${why})` : ''}.</p>
${s.estimatedStart ? html`<p>The scheduler expects it to start at ${timeTag(s.estimatedStart)} <strong>at the latest</strong> (its worst case: it is often earlier).</p>` : ''}
<p class="muted">You may close this page and the hub's: the job keeps its place in the queue, and your server opens from the hub's Home page once it runs.</p>`;
    }
    case 'starting':
      return html`<p class="state">Job ${s.jobId} runs on ${s.node ?? 'a compute node'}; your server is starting.</p>`;
    case 'ready': {
      const end = endsAt(s);
      return html`<p class="state">Running on ${s.node ?? 'the cluster'}${end ? html` until ${timeTag(end)} (${durationText(s.timeLimitSeconds!)} limit)` : ''}.</p>
<p class="muted">Open it from the hub's Home page, and stop it there when you are done.</p>`;
    }
    case 'stopping':
      return html`<p class="state">Stopping: the job is being ended…</p>`;
    case 'stopped':
    case 'failed':
      return finalMessage(s);
  }
}

/** The final message: its plain sentence, then the details for support, folded. */
export function finalMessage(s: Session): Html {
  const { sentence, details } = splitMessage(s.message ?? (s.state === 'failed' ? 'The start failed.' : 'This session has ended.'));
  return html`<p class="sentence">${sentence}</p>
${details ? html`<details><summary>Details for support</summary><pre>${details}</pre></details>` : ''}`;
}

export function eventLog(events: readonly SessionEvent[]): Html {
  if (!events.length) return html``;
  return html`<details><summary>What happened so far</summary><table>${events.map(
    (e) => html`<tr><td>${timeTag(e.time)}</td><td>${splitMessage(e.message).sentence}</td></tr>`,
  )}</table></details>`;
}
