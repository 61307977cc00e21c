"""How botocore reads its own data files (endpoints.json, the service models, the endpoint
rule sets) for the clients of api/aws_clients.py: the same files, in the same order of
precedence, decoded into plain dicts.

botocore's JSONFileLoader decodes every JSON object into an ``OrderedDict``: ~2-3x the
time of plain dicts, and the first build on the AWS path decodes ~4 MB of it
(endpoints.json alone is 1.2 MB), ~11 ms of CPU of every cold start
(bench/cold_import.py). Dicts keep insertion order, and nothing in botocore or boto3 uses
an ``OrderedDict`` method on what it loaded, so the data is the same mapping in the same
order. ``botocore.loaders.Loader`` takes its file loader as a constructor argument (and
``file_loader`` attribute): an object with ``exists(path)`` and ``load_file(path)``, each
given a path without its extension.
"""

from __future__ import annotations

import gzip
import json
import os
from typing import Any

# botocore's order: an uncompressed file wins over a compressed one of the same name.
_LOAD_ORDER = (".json", ".json.gz")


class PlainJsonFileLoader:
    """botocore's file loader interface, answering what JSONFileLoader answers."""

    def exists(self, file_path: str) -> bool:
        # botocore ships its models compressed: asking for ".json.gz" first answers most
        # of the ~900 checks of its two service listings with one stat instead of two.
        return os.path.isfile(file_path + ".json.gz") or os.path.isfile(file_path + ".json")

    def load_file(self, file_path: str) -> Any:
        for extension in _LOAD_ORDER:
            full_path = file_path + extension
            if os.path.isfile(full_path):
                with open(full_path, "rb") as stream:
                    payload = stream.read()
                if extension.endswith(".gz"):
                    payload = gzip.decompress(payload)
                return json.loads(payload.decode("utf-8"))
        return None
