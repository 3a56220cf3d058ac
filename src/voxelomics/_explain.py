"""Explain a settings validation error in one line a user can act on."""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError

__all__ = ["explain_validation"]


def _model_fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    import typing

    current: type[BaseModel] | None = model
    item = None  # the model inside a list field, for the list index that follows
    for part in loc[:-1]:
        if isinstance(part, int) and item is not None:
            current, item = item, None
            continue
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return []
        ann = current.model_fields[part].annotation
        args = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
        item = args[0] if typing.get_origin(ann) is list and args else None
        current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return list(current.model_fields) if current is not None else []


def explain_validation(exc: ValidationError, model: type[BaseModel]) -> str:
    """One readable message for a pydantic validation error of ``model``.

    Unknown keys get a "did you mean" and the valid keys at their level; other errors
    name the setting's dotted path and the value given.

    Parameters
    ----------
    exc : pydantic.ValidationError
    model : type of pydantic.BaseModel
        The model that was validated (to list the valid keys at an error's level).

    Returns
    -------
    str
        ``"invalid settings: ..."``, one clause per error, joined by ``"; "``.
    """
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(root)"
        if err["type"] == "extra_forbidden":
            valid = _model_fields_at(model, loc)
            hint = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            msg = f"unknown setting {where!r}"
            if hint:
                msg += f"; did you mean {hint[0]!r}?"
            if valid:
                msg += f" (valid here: {', '.join(valid)})"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"setting {where!r}: {text} (got {err.get('input')!r})"
        lines.append(msg)
    return "invalid settings: " + "; ".join(lines)
