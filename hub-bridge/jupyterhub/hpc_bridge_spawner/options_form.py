"""The spawn form of HpcBridgeSpawner: one choice per profile of the bridge, each with
what it gives (CPUs, memory, GPUs, time limit) and its description; profiles that cannot
run now (the bridge's partition check) shown disabled with the reason, or hidden
(``unavailable_profiles``); a plain fallback when the choices cannot be loaded; the
browser's time zone in a hidden field (progress times are then local); optionally the
fields of a WebDAV share.  A mixin so that spawner.py keeps only the lifecycle."""

import re

from .errors import SpawnFailed
from .messages import esc, valid_tz

#: Allowed profile names (what the options form may send).
PROFILE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

FORM_STYLE = (
    "<style>"
    ".hpcb-choices{margin:0 0 1em}"
    ".hpcb-choice{display:block;border:1px solid #ccc;border-radius:4px;padding:.5em .8em;margin:.4em 0;font-weight:normal;cursor:pointer}"
    ".hpcb-choice input{margin-right:.5em}"
    ".hpcb-name{font-weight:bold}"
    ".hpcb-resources{display:block;margin-left:1.6em}"
    ".hpcb-desc{display:block;margin-left:1.6em;color:#555}"
    ".hpcb-unavailable{opacity:.65;cursor:not-allowed}"
    ".hpcb-why{display:block;margin-left:1.6em;color:#a94442}"
    ".hpcb-notice{border-left:4px solid #f0ad4e;padding:.4em .8em;background:#fcf8e3}"
    "</style>"
)

# The browser's time zone, for local times on the progress page.
TZ_FIELD = (
    '<input type="hidden" name="tz" id="hpcb-tz" value="">'
    "<script>(function(){try{document.getElementById('hpcb-tz').value="
    "Intl.DateTimeFormat().resolvedOptions().timeZone||''}catch(e){}})();</script>"
)


async def default_options_form(spawner):
    """Default ``Spawner.options_form``: the choices and, with ``webdav_form``, the WebDAV
    share fields (may return '')."""
    return await spawner.render_profiles_form() + spawner.render_webdav_form()


def _walltime_seconds(text):
    """Slurm time formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) to seconds, or None."""
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"(?:(\d+)-)?(\d{1,3})(?::(\d{2}))?(?::(\d{2}))?", text)
    if not m:
        return None
    days, a, b, c = m.groups()
    if days is not None:
        secs = int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    elif b is None:
        secs = int(a) * 60
    elif c is None:
        secs = int(a) * 60 + int(b)
    else:
        secs = int(a) * 3600 + int(b) * 60 + int(c)
    return int(days or 0) * 86400 + secs


def _hours(seconds):
    if seconds % 86400 == 0:
        d = seconds // 86400
        return f"{d} day{'s' if d != 1 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round((seconds % 3600) / 60)} min"


def resources_text(resources):
    """'2 CPUs · 4 GB memory · 1 GPU · up to 2 h' (what a choice gives)."""
    r = resources if isinstance(resources, dict) else {}
    parts = []
    cpus = r.get("cpus")
    if isinstance(cpus, int) and cpus > 0:
        parts.append(f"{cpus} CPU{'s' if cpus != 1 else ''}")
    mem = r.get("memoryMB")
    if isinstance(mem, int) and mem > 0:
        parts.append(f"{mem // 1024} GB memory" if mem % 1024 == 0 else f"{mem} MB memory")
    else:
        parts.append("default memory")
    gpus = r.get("gpus")
    if isinstance(gpus, int) and gpus > 0:
        parts.append(f"{gpus} GPU{'s' if gpus != 1 else ''}")
    else:
        parts.append("no GPU")
    limit = _walltime_seconds(r.get("walltime"))
    if limit:
        parts.append(f"up to {_hours(limit)}")
    return " · ".join(parts)


class OptionsFormMixin:
    """Options form, options_from_form and the profile / WebDAV choices of a start."""

    # ---- options -------------------------------------------------------------------

    def _form_value(self, formdata, name):
        value = (formdata.get(name) or [""])[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return value or ""

    def render_webdav_form(self):
        """Fields for a WebDAV share (URL optional: the cluster's default applies)."""
        if not self.webdav_form:
            return ""
        return (
            '<div class="form-group">\n'
            '<label for="hpc-bridge-webdav-url">WebDAV share (optional)</label>\n'
            '<input class="form-control" type="url" name="webdav_url" id="hpc-bridge-webdav-url" placeholder="cluster default">\n'
            '<input class="form-control" type="text" name="webdav_username" autocomplete="username" placeholder="user name">\n'
            '<input class="form-control" type="password" name="webdav_password" autocomplete="current-password" placeholder="password or app token">\n'
            "</div>"
        )

    def _profile_options_from_form(self, formdata):
        options = self._profile_only_options(formdata)
        tz = valid_tz(self._form_value(formdata, "tz").strip())
        if tz:
            options["tz"] = tz
        username = self._form_value(formdata, "webdav_username").strip()
        password = self._form_value(formdata, "webdav_password")
        if self.webdav_form and username and password:
            webdav = {"username": username, "password": password}
            url = self._form_value(formdata, "webdav_url").strip()
            if url:
                webdav["url"] = url
            options["webdav"] = webdav
        return options

    def _profile_only_options(self, formdata):
        profile = self._form_value(formdata, "profile").strip()
        if not profile:
            return {}
        if not PROFILE_RE.fullmatch(profile):
            raise ValueError("Invalid profile name.")
        return {"profile": profile}

    def _student_tz(self):
        """The browser's time zone from the form ('' = unknown: times in UTC)."""
        opts = self.user_options if isinstance(self.user_options, dict) else {}
        return valid_tz(opts.get("tz"))

    def _chosen_profile(self):
        """The profile of this start: user_options, else default_profile, else None."""
        profile = None
        opts = self.user_options if isinstance(self.user_options, dict) else {}
        if opts.get("profile"):
            profile = opts["profile"]
        elif self.default_profile:
            profile = self.default_profile
        if profile is None:
            return None
        # user_options can also come straight from the REST API, bypassing the form.
        if not isinstance(profile, str) or not PROFILE_RE.fullmatch(profile):
            raise SpawnFailed("That choice of resources is not a valid name; pick one on the form.", status=400)
        return profile

    def _take_webdav_credentials(self):
        """The WebDAV credentials of this start, removed from user_options so that the
        password is not kept in the hub database (JupyterHub persists user_options)."""
        opts = self.user_options if isinstance(self.user_options, dict) else {}
        webdav = opts.get("webdav")
        if not isinstance(webdav, dict):
            return None
        kept = {k: v for k, v in opts.items() if k != "webdav"}
        self.user_options = kept
        orm_spawner = getattr(self, "orm_spawner", None)
        if orm_spawner is not None:
            orm_spawner.user_options = kept
            try:
                self.db.commit()
            except Exception as e:  # never let bookkeeping fail a start
                self.log.warning("Could not drop WebDAV credentials from user_options: %s", e)
        return {k: str(v) for k, v in webdav.items() if k in ("url", "username", "password")}

    async def render_profiles_form(self):
        """HTML for the choices; a plain notice when they cannot be loaded; '' for a single
        available choice (unless ``always_show_form``)."""
        try:
            profiles = await self.bridge.list_profiles()
        except Exception as e:
            self.log.warning("hpc-bridge profiles unavailable for %s: %s", self._log_name, e)
            return (
                f'<div class="hpcb-choices">{FORM_STYLE}<p class="hpcb-notice">'
                "The choices of resources could not be loaded: the cluster service does not answer "
                "right now. You can still press Start for the default choice; if the cluster service "
                "is still down, the next page says so and keeps retrying for a while.</p>"
                f"{TZ_FIELD}</div>"
            )
        usable = []
        for p in profiles:
            name = p.get("name")
            if isinstance(name, str) and PROFILE_RE.fullmatch(name):
                usable.append(p)
            else:
                self.log.warning("Ignoring hpc-bridge profile with invalid name %r", name)
        available = [p for p in usable if p.get("available", True) is not False]
        shown = available if self.unavailable_profiles == "hide" and available else usable
        if not shown or (len(shown) == 1 and len(available) == 1 and not self.always_show_form):
            return ""

        previous = self.user_options.get("profile") if isinstance(self.user_options, dict) else None
        names = [p["name"] for p in available]
        selected = next((n for n in (previous, self.default_profile) if n in names), names[0] if names else None)

        items = []
        for p in shown:
            name = p["name"]
            label = p.get("displayName") or name
            desc = p.get("description") or ""
            ok = p.get("available", True) is not False
            attrs = " checked" if ok and name == selected else ""
            if not ok:
                attrs += " disabled"
            why = p.get("unavailableReason") or "it cannot run on the cluster at the moment"
            items.append(
                f'<label class="hpcb-choice{"" if ok else " hpcb-unavailable"}" data-profile="{esc(name)}">'
                f'<input type="radio" name="profile" value="{esc(name)}"{attrs}>'
                f'<span class="hpcb-name">{esc(label)}</span>'
                f'<span class="hpcb-resources">{esc(resources_text(p.get("resources")))}</span>'
                + (f'<span class="hpcb-desc">{esc(desc)}</span>' if desc and desc.strip() != label.strip() else "")
                + ("" if ok else f'<span class="hpcb-why">Not available now: {esc(why)}.</span>')
                + "</label>"
            )
        return (
            f'<div class="hpcb-choices" role="radiogroup" aria-label="Resources">{FORM_STYLE}'
            "<p><strong>Choose the resources for your server</strong></p>\n"
            + "\n".join(items)
            + f"\n{TZ_FIELD}</div>"
        )
