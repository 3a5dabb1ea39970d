"""How HpcBridgeSpawner reaches the bridge: the bearer token (read from its file at every
use, so a rotated token needs no hub restart; never logged, never in a message) and a
BridgeClient built from the current configuration."""

import re

from .client import BridgeClient, BridgeConfigError

_TOKEN_RE = re.compile(r"^[\x21-\x7e]{1,4096}$")


class BridgeAccessMixin:
    """Needs from the spawner: bridge_url, bridge_token_file, bridge_token, request_timeout."""

    _warned_no_token = False

    def _read_token(self):
        if self.bridge_token_file:
            try:
                with open(self.bridge_token_file, encoding="utf-8") as f:
                    return self._check_token(f.read().strip(), "bridge_token_file")
            except (OSError, UnicodeDecodeError) as e:
                # Only the path and the error text: never any content.
                raise BridgeConfigError(
                    f"cannot read bridge_token_file {self.bridge_token_file!r}: "
                    f"{getattr(e, 'strerror', None) or type(e).__name__}"
                ) from None
        if self.bridge_token:
            return self._check_token(self.bridge_token.strip(), "bridge_token")
        if not self._warned_no_token:
            self._warned_no_token = True
            self.log.warning(
                "HpcBridgeSpawner: neither bridge_token_file nor bridge_token is set; "
                "calling %s without a bearer token",
                self.bridge_url,
            )
        return ""

    @staticmethod
    def _check_token(token, source):
        # A token with inner whitespace/control characters would make the HTTP
        # library raise an error quoting the header line, i.e. the token.
        if not _TOKEN_RE.fullmatch(token):
            raise BridgeConfigError(
                f"{source} holds an invalid token (empty, or contains whitespace or "
                "control characters)"
            )
        return token

    @property
    def bridge(self):
        """A BridgeClient built from the current configuration."""
        return BridgeClient(self.bridge_url, self._read_token, self.request_timeout)

