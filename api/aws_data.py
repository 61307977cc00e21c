"""How botocore reads its own data files (endpoints.json, the service models, the endpoint
rule sets) for the clients of api/aws_clients.py: the same files, in the same order of
precedence, decoded into plain dicts; and the services botocore knows, listed from one
walk of its folders and checked by name without it (``SharedListingLoader``).

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

import orjson
from botocore.exceptions import DataNotFoundError
from botocore.loaders import ExtrasProcessor, Loader, instance_cache
from botocore.session import Session

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
                return _decoded(payload)
        return None


def _decoded(payload: bytes) -> Any:
    # orjson decodes botocore's ~4 MB of models in ~0.6x the CPU of json (~4 ms of a
    # cold start), into the same dicts, lists, strings and numbers. What it refuses and
    # json accepts (an integer over 64 bits, NaN) is read by json, as botocore would.
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload.decode("utf-8"))


class SharedListingLoader(Loader):
    """botocore's ``Loader``, checking a named service in its own folders, and walking all
    service folders once for every model type when the whole list is asked for.

    ``load_service_model`` checks the service's name against ``list_available_services``
    for each model type it reads (``service-2``, then ``endpoint-rule-set-1``), and
    botocore answers each type with a walk of its own over the ~450 service folders: a
    stat of each, a listing of each, then the type's file looked for in each version
    folder (~12 ms of CPU of a cold start for the two). Here the first answer walks the
    folders with ``os.scandir`` (whose entries know whether they are folders without a
    stat) and keeps which version folders each service has; every type then only looks
    for its file in them (~7 ms for the two). The answer is botocore's: the same search
    paths in the same order, the same check (the file loader's ``exists``), a sorted
    list kept for the process, as botocore keeps its own. Loading a service the app names
    needs no listing at all (``load_service_model`` below).
    """

    def __init__(self, search_paths: list[str], extras_types: list[str], file_loader: Any) -> None:
        super().__init__(
            extra_search_paths=list(search_paths),
            include_default_search_paths=False,
            include_default_extras=False,
        )
        self.extras_types.extend(extras_types)
        self.file_loader = file_loader
        self._version_folders: list[tuple[str, list[str]]] | None = None
        self._services: dict[str, list[str]] = {}

    @classmethod
    def like(cls, loader: Loader, file_loader: Any) -> SharedListingLoader:
        """The same search paths and extras as ``loader`` (the session's own, which has
        read ``AWS_DATA_PATH``), reading through ``file_loader``."""
        return cls(loader.search_paths, loader.extras_types, file_loader)

    @instance_cache
    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        """botocore's ``load_service_model``, which first checks that ``service_name`` is
        in ``list_available_services(type_name)``: a walk of every service folder (~7 ms
        of CPU of a cold start for the two model types). A plain folder name is in that
        list exactly when one of its version folders holds the type's file, which
        ``list_api_versions`` answers from that service's own folders. Any other name,
        or one not found so, goes through botocore's own check (its error names every
        service it knows)."""
        if not self._is_listed(service_name, type_name):
            return super().load_service_model(service_name, type_name, api_version)
        # From here on, botocore's own steps once its check has passed, through its public
        # members.
        if api_version is None:
            api_version = self.determine_latest_version(service_name, type_name)
        folder = os.path.join(service_name, api_version)
        model = self.load_data(os.path.join(folder, type_name))
        extras = []
        for extras_type in self.extras_types:  # e.g. s3's service-2.sdk-extras
            try:
                extras.append(
                    self.load_data(os.path.join(folder, f"{type_name}.{extras_type}-extras"))
                )
            except DataNotFoundError:
                pass
        ExtrasProcessor().process(model, extras)
        return model

    def _is_listed(self, service_name: str, type_name: str) -> bool:
        plain = os.path.basename(service_name) == service_name and "\0" not in service_name
        if not plain or service_name in ("", ".", ".."):
            return False
        try:
            self.list_api_versions(service_name, type_name)
        # Not found, or botocore listing a file of that name as if it were a folder.
        except (DataNotFoundError, OSError):
            return False
        return True

    def list_available_services(self, type_name: str) -> list[str]:
        services = self._services.get(type_name)
        if services is None:
            exists = self.file_loader.exists
            services = sorted(
                {
                    service
                    for service, versions in self._walk()
                    if any(exists(os.path.join(version, type_name)) for version in versions)
                }
            )
            self._services[type_name] = services
        return services

    def _walk(self) -> list[tuple[str, list[str]]]:
        if self._version_folders is None:
            found: list[tuple[str, list[str]]] = []
            for root in self.search_paths:
                if not os.path.isdir(root):
                    continue
                with os.scandir(root) as services:
                    for service in services:
                        if service.is_dir():  # follows links, as os.path.isdir does
                            with os.scandir(service.path) as versions:
                                # A file cannot hold the model: only folders are looked in.
                                folders = [version.path for version in versions if version.is_dir()]
                            found.append((service.name, folders))
            self._version_folders = found
        return self._version_folders


def install_data_loader(session: Session) -> None:
    """Gives ``session`` the loader of this module in place of its own, with its own's
    search paths (``AWS_DATA_PATH``, ``~/.aws/models``, botocore's data) and extras, before
    any client reads through it."""
    own = session.get_component("data_loader")
    session.register_component("data_loader", SharedListingLoader.like(own, PlainJsonFileLoader()))
