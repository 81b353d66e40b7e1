"""Where benchmarks write their JSON: checked before the run, so an hour's result is not lost to a
missing directory or a read-only path at the end."""

import json
import os


def prepare_output(path: str | None) -> None:
    """Create `path`'s directory and check the file can be written (raises OSError naming it)."""
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, expected a JSON file path")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise PermissionError(f"{path}: cannot be written")


def write_json(path: str, obj) -> None:
    """Write `obj` to `path` whole (a temporary file renamed), so a reader never sees half of it."""
    prepare_output(path)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)
