"""One wording for an OSError in a log line: the words and the errno name, e.g.
``Too many open files (EMFILE)``, so the reader can tell a full disk or a descriptor limit from a
corrupt file, which a bare ``repr`` or a generic "cannot decode" hid."""

from __future__ import annotations

import errno


def describe_os_error(exc: OSError) -> str:
    if exc.errno is None:
        return str(exc) or repr(exc)
    return f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno, exc.errno)})"


class SettingPathError(OSError):
    """A file or folder named by a setting cannot be used; the message names the setting, the path,
    the cause and the fix (an OSError still, so callers that catch those keep working)."""


def setting_path_error(key: str, path: object, exc: OSError, fix: str) -> SettingPathError:
    """One line for ``exc`` met while using ``path``, the value of setting ``key``.

    Why: a bare ``[Errno 17] File exists: '/srv/x'`` names neither the setting nor what is wrong
    with it (a file where a folder must be).
    """
    where = exc.filename if exc.filename is not None else path
    if isinstance(exc, FileExistsError | NotADirectoryError):  # mkdir or open through a file
        cause = f"{where} (or a folder above it) is a file where a folder is needed"
    elif isinstance(exc, IsADirectoryError):
        cause = f"{where} is a folder where a file is needed"
    else:
        cause = describe_os_error(exc) + (f" at {where}" if str(where) != str(path) else "")
    return SettingPathError(f"{key} {path}: {cause}: {fix}")
