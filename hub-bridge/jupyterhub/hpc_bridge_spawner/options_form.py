"""The spawn form of HpcBridgeSpawner: the profile picker (from the bridge's profiles)
and, optionally, the fields of a WebDAV share.  A mixin so that spawner.py keeps only
the lifecycle."""

import html
import re

from .errors import SpawnFailed

#: Allowed profile names (what the options form may send).
PROFILE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


async def default_options_form(spawner):
    """Default ``Spawner.options_form``: the profile picker and, with ``webdav_form``,
    the WebDAV share fields (may return '')."""
    return await spawner.render_profiles_form() + spawner.render_webdav_form()



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
        values = formdata.get("profile") or [""]
        profile = values[0]
        if isinstance(profile, bytes):
            profile = profile.decode("utf-8", "replace")
        profile = (profile or "").strip()
        if not profile:
            return {}
        if not PROFILE_RE.fullmatch(profile):
            raise ValueError("Invalid profile name.")
        return {"profile": profile}

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
            raise SpawnFailed("Invalid profile name.")
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
        """HTML for the profile picker, or '' (single profile / bridge unreachable)."""
        try:
            profiles = await self.bridge.list_profiles()
        except Exception as e:
            self.log.warning(
                "hpc-bridge profiles unavailable for %s, showing no options form: %s",
                self._log_name,
                e,
            )
            return ""
        usable = []
        for p in profiles:
            name = p.get("name")
            if isinstance(name, str) and PROFILE_RE.fullmatch(name):
                usable.append(p)
            else:
                self.log.warning("Ignoring hpc-bridge profile with invalid name %r", name)
        if len(usable) <= 1:
            return ""

        previous = None
        if isinstance(self.user_options, dict):
            previous = self.user_options.get("profile")
        selected = previous or self.default_profile or usable[0]["name"]
        if selected not in {p["name"] for p in usable}:
            selected = usable[0]["name"]

        def esc(value):
            return html.escape("" if value is None else str(value), quote=True)

        options = []
        details = []
        for p in usable:
            name = p["name"]
            label = p.get("displayName") or name
            desc = p.get("description") or ""
            sel = " selected" if name == selected else ""
            options.append(
                f'<option value="{esc(name)}" title="{esc(desc)}"{sel}>{esc(label)}</option>'
            )
            details.append(
                f"<dt>{esc(label)}</dt><dd>{esc(desc)}</dd>" if desc else f"<dt>{esc(label)}</dt>"
            )
        return (
            '<div class="form-group">\n'
            '<label for="hpc-bridge-profile">Resources</label>\n'
            '<select class="form-control" name="profile" id="hpc-bridge-profile">\n'
            + "\n".join(options)
            + "\n</select>\n"
            '<dl class="hpc-bridge-profiles">\n'
            + "\n".join(details)
            + "\n</dl>\n</div>"
        )

