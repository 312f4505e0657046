"""Settings files with a schema: a YAML config (``configs/<group>/<name>.yaml`` by name, or a path) whose keys and
value types are those of a pydantic model (:class:`Settings`), read with ``key=value`` overrides. Every key the
schema lists is required unless it has a default there, no other key is accepted, and an error names the file and
the key on one line. A float setting given as an integer is read as a float (``-23`` gives ``-23.0``).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from avemo.errors import ParameterError
from avemo.systems.spec import config_path, read_config


class Settings(BaseModel):
    """Base of a settings schema: unknown keys are errors; field names may start with ``model_``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def read_settings(schema: type[Settings], name_or_path: str | os.PathLike, group: str,
                  overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """The settings of ``name_or_path`` (a YAML path, or a name in ``configs/<group>/``) with ``overrides``
    (``key=value``, dotted keys for nested settings) applied, checked against ``schema``.

    Raises:
        ParameterError: a missing file, invalid YAML, a bad override, or settings ``schema`` rejects.
    """
    data = read_config(name_or_path, group, list(overrides or []))
    source = str(config_path(name_or_path, group))
    if overrides:
        source += f" (with {', '.join(overrides)})"
    return check_settings(schema, data, source)


def check_settings(schema: type[Settings], data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``data`` checked against ``schema``, as plain values in ``data``'s order (keys the schema leaves optional only
    when given).

    Raises:
        ParameterError: naming ``source`` and each unknown, missing or wrongly typed key.
    """
    try:
        checked = schema.model_validate(dict(data)).model_dump(exclude_unset=True)
    except ValidationError as err:
        problems = [_problem(schema, e) for e in err.errors()]
        raise ParameterError(f"{source}: " + "; ".join(problems)) from None
    return {key: checked[key] for key in data}  # in the order of the file


def _problem(schema: type[Settings], error: Mapping[str, Any]) -> str:
    """One validation error as text: the dotted key, what is wrong, and the keys allowed where one is unknown."""
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"setting {key!r} is missing (every setting is required: copy the shipped config and edit it)"
    if error["type"] == "extra_forbidden":
        known = _known_keys(schema, error["loc"][:-1])
        return f"unknown setting {key!r}" + (f" (known: {', '.join(known)})" if known else "")
    return f"setting {key!r}: {error['msg'].removeprefix('Value error, ')}, got {error.get('input')!r}"


def _known_keys(schema: type[Settings], parents: Sequence[Any]) -> list[str]:
    """The keys ``schema`` allows under ``parents`` (empty when they lead to no nested schema)."""
    model: Any = schema
    for part in parents:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)
