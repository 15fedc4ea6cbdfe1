"""Untrusted JSON into validated shapes, with errors that name each wrong field.

Request bodies are parsed into pydantic models (strict: a number is not a path, ``true`` is not
a size) instead of ``.get()`` on whatever arrived, so a malformed body is a 400 naming the field,
never an AttributeError or TypeError deep in a handler.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from baton.core.errors import BadRequestError

Shape = TypeVar("Shape", bound=BaseModel)


def describe_problems(errors: Any) -> str:
    """The first few validation problems, each as ``where: what``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item.get('loc', ())) or 'body'}: {item.get('msg', '')}"
        for item in list(errors)[:5]
    )


def parse_body(shape: type[Shape], data: Any, what: str) -> Shape:
    """Validate untrusted JSON into ``shape``; BadRequestError naming each wrong field."""
    try:
        return shape.model_validate(data)
    except ValidationError as error:
        raise BadRequestError(
            f"{what} is malformed: {describe_problems(error.errors())}", hint=_shape_hint(shape)
        ) from None


def _shape_hint(shape: type[BaseModel]) -> str:
    fields = ", ".join(f"{field.alias or name}" for name, field in shape.model_fields.items())
    return f"Send a JSON object with the fields: {fields}."
