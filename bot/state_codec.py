"""JSON encoding of botbuilder state (dialog stacks, prompt options, activities) for durable storage.

botbuilder keeps Python objects in conversation state (``DialogState``, ``DialogInstance``,
``PromptOptions`` holding ``Activity`` models). This codec writes them as tagged JSON and reads them
back, instantiating only classes from an allow-list of module prefixes, so a row in the database can
never make the bot construct an arbitrary object (unlike pickle-style encoders).
"""

from __future__ import annotations

import enum
import importlib
import json
from datetime import date, datetime
from typing import Any, cast

from msrest.serialization import Model as MsrestModel
from pydantic import BaseModel

_TAG = "$t"
_ALLOWED_PREFIXES = ("botbuilder.", "botframework.", "dialogs.", "domain.", "cards.", "bot.")


class StateCodecError(ValueError):
    """Stored state names a type this codec will not build."""


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _load_class(path: str) -> type[Any]:
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith(_ALLOWED_PREFIXES):
        raise StateCodecError(f"refusing to load state of type {path}")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not isinstance(target, type):
        raise StateCodecError(f"{path} is not a class")
    return target


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: _to_json(v) for k, v in value.items()}
        return {_TAG: "dict", "items": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, enum.Enum):
        return {_TAG: "enum", "cls": _class_path(value), "v": _to_json(value.value)}
    if isinstance(value, BaseModel):
        return {_TAG: "pydantic", "cls": _class_path(value), "v": value.model_dump(mode="json")}
    if isinstance(value, MsrestModel):
        serialized = value.serialize(keep_readonly=True)  # type: ignore[no-untyped-call]  # msrest: unannotated
        return {_TAG: "msrest", "cls": _class_path(value), "v": serialized}
    if hasattr(value, "__dict__"):
        return {_TAG: "object", "cls": _class_path(value), "v": _to_json(vars(value))}
    raise StateCodecError(f"cannot store a value of type {type(value).__name__} in bot state")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _from_json(v) for k, v in value.items()}
    if tag == "dict":
        return {_from_json(k): _from_json(v) for k, v in value["items"]}
    if tag == "datetime":
        return datetime.fromisoformat(value["v"])
    if tag == "date":
        return date.fromisoformat(value["v"])
    cls = _load_class(value["cls"])
    if tag == "enum":
        return cls(_from_json(value["v"]))
    if tag == "pydantic":
        return cls.model_validate(value["v"])
    if tag == "msrest":
        return cls.deserialize(value["v"])
    if tag == "object":
        # The class's own allocator, without __init__ (typeshed reads cls.__new__ as the metaclass's).
        instance = cast(Any, cls).__new__(cls)
        instance.__dict__.update(_from_json(value["v"]))
        return instance
    raise StateCodecError(f"unknown state tag {tag!r}")


def encode(value: Any) -> str:
    return json.dumps(_to_json(value), separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> Any:
    return _from_json(json.loads(text))
