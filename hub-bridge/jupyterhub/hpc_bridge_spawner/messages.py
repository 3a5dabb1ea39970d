"""What the student reads on JupyterHub's progress page: plain text for ``message`` and
escaped HTML for ``html_message`` (the queue wait, "retrying", "ready", failures).

Times are shown in the student's time zone when the spawn form sent it (hidden field
``tz``, from the browser's ``Intl``), else in UTC and labelled so.

The page appends every event to its event log and opens that log when a start fails.  A
small ``<style>`` sent with the messages keeps the log readable: refreshes of the queue
wait (class ``hpcb-tick``) and the details of a failure (class ``hpcb-details``) are not
repeated there -- the details are shown once, folded, under the failure's sentence.
"""

import datetime as _dt
import html
import re

try:
    import zoneinfo
except ImportError:  # Python < 3.9
    zoneinfo = None

#: IANA time zone names as the browser reports them (Europe/Berlin, America/Argentina/Salta, UTC).
TZ_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,3}$")

STYLE = (
    "<style>"
    "#progress-log .hpcb-tick,#progress-log .hpcb-details{display:none}"
    ".hpcb-msg{display:inline-block;text-align:left;max-width:48em}"
    ".hpcb-msg p{margin:.3em 0}"
    ".hpcb-details pre{white-space:pre-wrap;text-align:left;max-height:24em;overflow:auto}"
    # On a failure, the template's "Your server is starting up" lines would contradict us.
    ".text-center:has(#progress-message .hpcb-failure)>p:not(#progress-message){display:none}"
    "</style>"
)


def esc(text):
    return html.escape(str(text if text is not None else ""), quote=True)


def valid_tz(name):
    """The name if it is a time zone this Python knows, else ''."""
    if not isinstance(name, str) or not TZ_RE.fullmatch(name) or zoneinfo is None:
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, OSError
        return ""
    return name


def parse_iso(value):
    """An aware UTC datetime from the bridge's ISO 8601 text, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt


def clock(when, tz_name="", now=None):
    """'10:51 your time', 'tomorrow 08:10 your time', or '10:51 UTC' (no time zone known)."""
    if when is None:
        return ""
    zone = None
    if tz_name and zoneinfo is not None:
        try:
            zone = zoneinfo.ZoneInfo(tz_name)
        except Exception:
            zone = None
    label = "your time" if zone else "UTC"
    zone = zone or _dt.timezone.utc
    local = when.astimezone(zone)
    today = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(zone).date()
    text = local.strftime("%H:%M")
    if local.date() == today + _dt.timedelta(days=1):
        text = "tomorrow " + text
    elif local.date() != today:
        text = local.strftime("%a %d %b ") + text
    return f"{text} {label}"


def duration(seconds):
    """'45 s', '2 min 10 s', '12 min', '1 h 5 min', '2 h', '1 day 3 h'."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 600:
        m, r = divmod(s, 60)
        return f"{m} min {r} s" if r else f"{m} min"
    if s < 3600:
        return f"{round(s / 60)} min"
    days, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = round(rest / 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if h:
        parts.append(f"{h} h")
    if m and not days:
        parts.append(f"{m} min")
    return " ".join(parts) or "0 min"


# Slurm's pending reasons, as the bridge explains them too.
REASONS = {
    "Priority": "other jobs have priority",
    "Resources": "waiting for free resources",
    "QOSMaxJobsPerUserLimit": "you already run the most jobs your QOS allows",
    "AssocGrpCpuLimit": "your group's CPU limit is reached",
    "ReqNodeNotAvail": "the requested nodes are not available",
    "PartitionDown": "the partition is down",
    "BeginTime": "the start time has not come yet",
    "Dependency": "waiting for another job",
    "JobHeldUser": "the job is held",
    "JobHeldAdmin": "an administrator holds the job",
}


def reason_text(reason):
    if not isinstance(reason, str) or not reason or reason == "None":
        return ""
    return f"{REASONS[reason]} ({reason})" if reason in REASONS else reason


def position_text(position):
    if not isinstance(position, int) or isinstance(position, bool):
        return ""
    if position <= 1:
        return "next in line"
    ahead = position - 1
    return f"{ahead} job{'s' if ahead != 1 else ''} ahead of yours"


def event(progress, text, body_html, *classes):
    """A progress event: plain ``message`` and an ``html_message`` in our wrapper."""
    cls = " ".join(("hpcb-msg",) + classes)
    return {
        "progress": max(0, min(100, int(progress))),
        "message": text,
        "html_message": f'<div class="{cls}">{body_html}</div>{STYLE}',
    }


def queue_event(session, waited, give_up_at, tz, cancel_url, progress, tick, now=None):
    """The queue wait: time waited, position and reason, the scheduler's worst-case start,
    what closing the page does, when the start is given up, and how to leave the queue."""
    queue = session.get("queue") if isinstance(session.get("queue"), dict) else {}
    where = ", ".join(x for x in (position_text(queue.get("position")), reason_text(session.get("reason"))) if x)
    head = f"Waiting in the queue for {duration(waited)}" + (f": {where}" if where else "")
    lines = [f"<p><strong>{esc(head)}.</strong></p>"]
    text = head + "."
    start = parse_iso(queue.get("estimatedStart"))
    if start:
        at = clock(start, tz, now)
        lines.append(
            f"<p>The scheduler expects it to start at {esc(at)} <strong>at the latest</strong>"
            " (its worst case: it often starts earlier).</p>"
        )
        text += f" Expected to start at {at} at the latest."
    close = "You may close this page: the job keeps its place, and your server opens from the Home page once it runs."
    if give_up_at:
        close += f" If it has not started by {clock(give_up_at, tz, now)}, the start is given up and the job withdrawn."
    lines.append(f"<p>{esc(close)}</p>")
    if cancel_url:
        lines.append(f'<p><a href="{esc(cancel_url)}" target="_blank" rel="noopener">Leave the queue (cancel this start)</a></p>')
    return event(progress, text, "".join(lines), *(("hpcb-tick",) if tick else ()))


def retrying_event(what, left_seconds, give_up_at, tz, progress, tick, now=None):
    """The cluster service (the bridge) does not answer: say so, and for how long we retry."""
    if give_up_at:
        tail = f"retrying until {clock(give_up_at, tz, now)} ({duration(left_seconds)} left)."
    else:
        tail = f"retrying for another {duration(left_seconds)}."
    text = f"The cluster service does not answer right now; {tail} {what}".strip()
    return event(progress, text, f"<p>{esc(text)}</p>", *(("hpcb-tick",) if tick else ()))


def ready_event(session, tz, fallback, now=None):
    """Ready: where, and until when it runs ("runs until 12:30 your time, 2 h limit")."""
    node = session.get("node") or "the cluster"
    ends = parse_iso(session.get("endsAt"))
    limit = session.get("timeLimitSeconds")
    if ends and isinstance(limit, (int, float)) and limit > 0:
        text = (
            f"Your server is ready on {node}. It runs until {clock(ends, tz, now)}"
            f" ({duration(limit)} limit); save your work before then."
        )
    else:
        text = fallback or f"Your server is ready on {node}."
    return event(100, text, f"<p>{esc(text)}</p>")


def failure_html(sentence, details):
    """The failure as the page shows it: the sentence, then the details once, folded."""
    body = f'<p class="hpcb-sentence"><strong>{esc(sentence)}</strong></p>'
    if details:
        body += (
            '<details class="hpcb-details"><summary>Details for support</summary>'
            f"<pre>{esc(details)}</pre></details>"
        )
    return f'<div class="hpcb-msg hpcb-failure">{body}</div>{STYLE}'
