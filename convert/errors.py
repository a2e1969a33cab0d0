"""The one exception the exporter raises for input it cannot use.

Every failure a user can fix (wrong file, wrong shape, empty data, unwritable folder, a variant out
of tolerance) becomes an :class:`ExportError` whose message is a single line naming the thing and
the fix; the CLI prints it as ``error: ...`` and exits with code 2.
"""

from __future__ import annotations


class ExportError(RuntimeError):
    """A failed export; ``str(exc)`` is the one line shown to the user."""


EXIT_USAGE = 2
