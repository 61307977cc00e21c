"""Whether any of some environment variables is set, cheaply enough to ask per request.

``name in os.environ`` raises and catches two KeyErrors for a name that is not set (its
``__getitem__`` raises one and re-raises another), ~0.5 µs each time, and most of the
switches read per request (Powertools' POWERTOOLS_METRICS_DISABLED and POWERTOOLS_DEV, the
X-Ray trace id outside Lambda) are not set. CPython's ``os.environ`` keeps its items in a
dict of encoded names, which every change through ``os.environ`` (``monkeypatch.setenv``
included) updates: asked there, a missing name costs a dict lookup. Where that dict is
not there, the ordinary ``in``.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def any_set(*names: str) -> Callable[[], bool]:
    environ = os.environ
    data = getattr(environ, "_data", None)
    encodekey = getattr(environ, "encodekey", None)
    if not isinstance(data, dict) or not callable(encodekey):
        return lambda: any(name in environ for name in names)
    keys = tuple(encodekey(name) for name in names)
    if len(keys) == 1:
        (key,) = keys
        return lambda: key in data
    return lambda: not data.keys().isdisjoint(keys)
