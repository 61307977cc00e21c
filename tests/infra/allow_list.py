"""A persisted-operation allow-list file, as the packager and the function expect one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

DOCUMENT = "query Me { me { id username } }"


def write_allow_list(path: Path, document: str = DOCUMENT) -> Path:
    digest = hashlib.sha256(document.encode()).hexdigest()
    path.write_text(json.dumps({f"sha256:{digest}": document}), encoding="utf-8")
    return path
