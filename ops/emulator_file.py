"""Where `make serve-aws` tells `make token-aws` how to reach its emulator: a small JSON
file in DEMOBACKEND_DATA_DIR (private: it holds the emulator's demo password), written
when the emulator is up and removed when it stops. Emulator only, never production."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "aws-emulator.json"


class EmulatorNotRunningError(Exception):
    pass


@dataclass(frozen=True)
class EmulatorInfo:
    endpoint: str
    region: str
    user_pool_id: str
    client_id: str
    password: str  # every emulated user's; the emulator and its data die together


def write_info(data_dir: Path, info: EmulatorInfo) -> Path:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / FILE_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(asdict(info), out)
    return path


def read_info(data_dir: Path) -> EmulatorInfo:
    path = data_dir / FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return EmulatorInfo(**{name: str(raw[name]) for name in EmulatorInfo.__annotations__})
    except FileNotFoundError:
        raise EmulatorNotRunningError(
            f"no running `make serve-aws` found in {data_dir} (start it with the same "
            "DEMOBACKEND_DATA_DIR)"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise EmulatorNotRunningError(f"{path} is damaged; restart `make serve-aws`") from None
