"""One way to declare options: a method's config and a track's budget are frozen dataclasses of :func:`option` fields.

Each field states its default, its help text and its constraints in one place (the metadata of the dataclass
field), the way scikit-learn's ``_parameter_constraints`` does; :func:`build_options` builds the object from a
mapping (TOML, ``--set`` pairs, registry overrides) and :func:`check_options` checks it against those declared
constraints, with one error wording for every config and budget of the project. Budgets and configs thus read
the same, validate the same and describe themselves the same (``parbench list budgets``, ``parbench list methods``).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Config:
    ...     k: int = option(3, "Neighbours averaged.", ge=1)
    ...     mixer: str = option("mamba", "Sequence mixer.", choices=("mamba", "mlp"))
    >>> build_options(Config, {"k": 5}, where="config of method 'x'").k
    5
    >>> build_options(Config, {"k": 0}, where="config of method 'x'")
    Traceback (most recent call last):
    ...
    harness.errors.BudgetError: config of method 'x': k must be >= 1; got 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.errors import BudgetError

__all__ = ["build_options", "check_options", "describe_options", "option", "option_rule"]

#: Metadata keys of a constraint, in the order their rules are printed.
_CONSTRAINTS = ("choices", "ge", "gt", "le", "lt", "odd", "non_empty")


def option(
    default: Any,
    help: str,  # noqa: A002 - the word every CLI library uses for it
    *,
    choices: tuple[Any, ...] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    odd: bool = False,
    non_empty: bool = False,
) -> Any:
    """Declare one option of a config or budget dataclass.

    Args:
        default: The default value (immutable: numbers, strings, booleans, tuples).
        help: One sentence on what the option does, with its unit.
        choices: The values allowed, when the option is one of a fixed vocabulary.
        ge: Smallest value allowed.
        gt: The value must be greater than this.
        le: Largest value allowed.
        lt: The value must be smaller than this.
        odd: The value must be an odd integer.
        non_empty: A tuple or string option must not be empty.

    Returns:
        A :func:`dataclasses.field` carrying the help text and the constraints in its metadata.
    """
    meta: dict[str, Any] = {"help": help}
    for key, value in (("choices", choices), ("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
        if value is not None:
            meta[key] = tuple(value) if key == "choices" else value
    if odd:
        meta["odd"] = True
    if non_empty:
        meta["non_empty"] = True
    return dataclasses.field(default=default, metadata=meta)


def option_rule(field: dataclasses.Field) -> str:
    """The declared constraints of a field in words (``">= 1"``, ``"one of mamba, mlp"``), or ``""``."""
    meta = field.metadata
    words = []
    if "choices" in meta:
        words.append("one of " + ", ".join(str(c) for c in meta["choices"]))
    for key, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in meta:
            words.append(f"{sign} {meta[key]:g}")
    if meta.get("odd"):
        words.append("odd")
    if meta.get("non_empty"):
        words.append("not empty")
    return " and ".join(words)


def _violates(field: dataclasses.Field, value: Any) -> bool:
    meta = field.metadata
    if "choices" in meta and value not in meta["choices"]:
        return True
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    bounds = (("ge", lambda v, b: v >= b), ("gt", lambda v, b: v > b), ("le", lambda v, b: v <= b),
              ("lt", lambda v, b: v < b))
    for key, holds in bounds:
        if key in meta and (not numeric or not holds(value, meta[key])):
            return True
    if meta.get("odd") and (not isinstance(value, int) or value % 2 != 1):
        return True
    return bool(meta.get("non_empty") and not value)


def _convert(field: dataclasses.Field, value: Any, where: str) -> Any:
    """Bring a value from TOML, the CLI or Python to the type of the field's default."""
    default = field.default
    if isinstance(default, tuple):
        if isinstance(value, str):  # --set layers=layer1,layer2
            value = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(value) if isinstance(value, (list, tuple)) else value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            msg = f"{where}: {field.name} must be true or false; got {value!r}."
            raise BudgetError(msg)
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, (int, float, str)) and not isinstance(value, type(default)):
        msg = f"{where}: {field.name} must be a {type(default).__name__}; got {value!r}."
        raise BudgetError(msg)
    return value


def check_options(obj: Any, *, where: str) -> None:
    """Check every field of a config or budget against the constraints its :func:`option` declared.

    Args:
        obj: A dataclass instance.
        where: What the values belong to, for the message (``"config of method 'snarm'"``).

    Raises:
        BudgetError: A field breaks its constraint; the message names the field, the rule and the value.
    """
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if _violates(field, value):
            msg = f"{where}: {field.name} must be {option_rule(field)}; got {value!r}."
            raise BudgetError(msg)


def build_options(cls: type, values: Mapping[str, Any] | None, *, where: str) -> Any:
    """Build a config or budget dataclass from a mapping, then check it.

    Text of a tuple field is split at commas (``--set layers=layer1,layer2``), lists become tuples and an
    integer given for a float field becomes a float.

    Args:
        cls: A (frozen) dataclass whose fields are :func:`option` fields (plain fields are accepted too).
        values: Field values; missing fields take their defaults.
        where: What the values belong to, for the messages.

    Returns:
        The checked instance.

    Raises:
        BudgetError: A key is not a field (the message lists the allowed keys), a value has the wrong type or
            breaks its constraint.
    """
    values = dict(values or {})
    allowed = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        msg = (
            f"{where}: key {unknown[0]!r} is not allowed; allowed keys: {', '.join(sorted(allowed)) or '(none)'}."
        )
        raise BudgetError(msg)
    converted = {key: _convert(allowed[key], value, where) for key, value in values.items()}
    obj = cls(**converted)
    check_options(obj, where=where)
    return obj


def describe_options(cls: type) -> list[tuple[str, str, str]]:
    """Return (field, default, help with its rule) for every field, for ``parbench list``."""
    rows = []
    for field in dataclasses.fields(cls):
        rule = option_rule(field)
        text = field.metadata.get("help", "") + (f" ({rule})" if rule else "")
        rows.append((field.name, repr(field.default), text))
    return rows
