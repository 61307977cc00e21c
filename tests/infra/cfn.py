"""Reading infra/template.yaml for tests: a YAML loader that understands CloudFormation's
short tags (``!Ref``, ``!Sub``, ``!GetAtt``, ``!If`` ...), spelled out in their long form,
and small helpers to walk SAM resources."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
TEMPLATE_PATH = INFRA_DIR / "template.yaml"

Template = dict[str, Any]


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the short-form intrinsic functions, as CloudFormation reads them."""


def _intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - YAML has no fourth kind of node
        raise yaml.constructor.ConstructorError(None, None, f"odd node {node!r}")
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def _load(path: Path) -> Template:
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a template")
    return loaded


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    """A fresh copy each call: tests mutate it freely."""
    return copy.deepcopy(_load(path))


def dump_template(template: Template, path: Path) -> Path:
    """Write a (mutated) template as long-form YAML, which every tool reads."""
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path


def resources(template: Template, type_: str | None = None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.get("Resources", {})
    if type_ is None:
        return found
    return {name: res for name, res in found.items() if res.get("Type") == type_}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def parameter(template: Template, value: Any) -> dict[str, Any] | None:
    """The parameter ``value`` refers to (``{"Ref": name}``), else None."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        found: dict[str, Any] | None = template.get("Parameters", {}).get(value["Ref"])
        return found
    return None


def sub_text(value: Any) -> str | None:
    """The template string of a ``Fn::Sub`` (either form), a plain string as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        body = value["Fn::Sub"]
        text = body[0] if isinstance(body, list) else body
        return text if isinstance(text, str) else None
    return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def walk(value: Any) -> Iterator[Any]:
    """Every node below ``value`` (itself included), depth first."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
