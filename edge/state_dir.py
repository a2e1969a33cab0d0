"""Where the daemon keeps what it writes (records.jsonl, the MQTT queue) when the config does not say.

Under systemd (``StateDirectory=au-edge``) that is ``$STATE_DIRECTORY``, i.e. /var/lib/au-edge;
anywhere else it is the user's own state folder from the XDG Base Directory spec,
``$XDG_STATE_HOME/au-edge`` (default ``~/.local/state/au-edge``), so that the first
``au-edge daemon --source camera:0`` on a laptop needs no root and no config file. Nothing here
creates the folder: the sinks do, once the config is valid and the source has opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "au-edge"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$STATE_DIRECTORY`` (its first entry) under systemd, else ``$XDG_STATE_HOME/au-edge``, else
    ``~/.local/state/au-edge``. A relative ``$XDG_STATE_HOME`` is ignored, as the spec says."""
    env = os.environ if env is None else env
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "state" / APP
