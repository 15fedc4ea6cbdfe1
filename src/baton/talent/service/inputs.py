"""Inputs shared by the API, the CLI and the pages (pydantic models and their parsers)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton.talent.errors import InvalidOpeningError, InvalidProfileError
from baton.talent.service.common import MAX_LIST, URL_PATTERN


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Education(_Input):
    institution: str = Field(min_length=1, max_length=200)
    degree: str = Field(default="", max_length=100)
    field: str = Field(default="", max_length=200)
    year: int | None = Field(default=None, ge=1900, le=2100)


class CareerEntry(_Input):
    organization: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=200)
    start: date | None = None
    end: date | None = None


class Link(_Input):
    url: str = Field(min_length=8, max_length=1000)
    title: str = Field(default="", max_length=300)
    number: str = Field(default="", max_length=100)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not URL_PATTERN.match(value):
            raise ValueError("must be an http(s) URL")
        return value


class ProfileFields(_Input):
    """Profile items; None leaves an item as it is, ``clear`` erases optional items by name."""

    name: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    skills: list[str] | None = Field(default=None, max_length=MAX_LIST)
    headline: str | None = Field(default=None, max_length=300)
    keywords: list[str] | None = Field(default=None, max_length=MAX_LIST)
    education: list[Education] | None = Field(default=None, max_length=MAX_LIST)
    career: list[CareerEntry] | None = Field(default=None, max_length=MAX_LIST)
    publications: list[Link] | None = Field(default=None, max_length=200)
    patents: list[Link] | None = Field(default=None, max_length=200)
    desired_roles: list[str] | None = Field(default=None, max_length=MAX_LIST)
    places: list[str] | None = Field(default=None, max_length=MAX_LIST)
    earliest_start: date | None = None
    service_status: str | None = None
    service_until: date | None = None
    clear: list[str] = Field(default_factory=list)


class CollectionConsent(_Input):
    """The answer to the collection notice given when a profile is made."""

    notice_version: str
    optional_items: list[str] = Field(default_factory=list)
    language: Literal["ko", "en"] = "ko"


class OpeningFields(_Input):
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    required_skills: list[str] | None = Field(default=None, max_length=MAX_LIST)
    preferred_skills: list[str] | None = Field(default=None, max_length=MAX_LIST)
    places: int | None = Field(default=None, ge=1, le=1000)
    location: str | None = Field(default=None, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    closes_on: date | None = None


def parse_profile_fields(data: dict[str, Any]) -> ProfileFields:
    """``ProfileFields`` from a plain dict (CLI, pages), with pydantic's complaint as a clear error."""
    try:
        return ProfileFields.model_validate(data)
    except ValidationError as error:
        raise InvalidProfileError(_describe(error)) from error


def parse_opening_fields(data: dict[str, Any]) -> OpeningFields:
    try:
        return OpeningFields.model_validate(data)
    except ValidationError as error:
        raise InvalidOpeningError(_describe(error)) from error


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', '')}" for item in error.errors()[:5]
    )
