"""One wording for an OSError in a log line: the words and the errno name, e.g.
``Too many open files (EMFILE)``, so the reader can tell a full disk or a descriptor limit from a
corrupt file, which a bare ``repr`` or a generic "cannot decode" hid."""

from __future__ import annotations

import errno


def describe_os_error(exc: OSError) -> str:
    if exc.errno is None:
        return str(exc) or repr(exc)
    return f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno, exc.errno)})"
