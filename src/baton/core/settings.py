"""Settings, read from the environment (``BATON_*``) and overridden by CLI flags."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GIB = 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    data_dir: Path = Field(default=Path("./baton-data"), description="Folder for the embedded database and blobs")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/baton.db")
    storage_url: str | None = Field(
        default=None, description="s3://bucket/prefix or a folder; default <data_dir>/blobs"
    )
    public_url: str | None = Field(default=None, description="External base URL, used in LFS upload links")
    max_file_size: int = Field(default=200 * GIB, description="Largest single file accepted, in bytes")
    max_repo_size: int = Field(default=2000 * GIB, description="Largest total size of one repo's files")
    max_regular_file_size: int = Field(default=10 * 1024 * 1024, description="Largest inline (non-LFS) file")
    max_commit_payload: int = Field(
        default=256 * 1024 * 1024, description="Largest NDJSON commit request (its inline files), in bytes"
    )
    max_request_body: int = Field(
        default=16 * 1024 * 1024, description="Largest body of any other request but upload links, in bytes"
    )
    provenance_max_onnx_bytes: int = Field(
        default=2 * GIB - 1,
        ge=1,
        description="Largest model.onnx provenance parses (whole, in memory); external data does not count",
    )
    gc_grace_seconds: int = Field(default=24 * 3600, description="Unreferenced blobs younger than this are kept")
    token_bytes: int = 32
    event_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Attempts an event handler gets (with back-off) before its job is left dead for an operator",
    )
    rate_limits: str = Field(
        default="",
        description="Overrides of the rate limits, e.g. 'vote=30/60,upload=off' (count/seconds per kind)",
    )
    server_timing: bool = Field(
        default=False,
        description="Add a Server-Timing header (the server's time per request, in ms) to every response",
    )
    evaluation_model_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Server folders operators may evaluate over HTTP (separated by the OS path separator, ':')",
    )

    variants_eval_task: str = Field(
        default="kobest_copa",
        description="Task a variant and its base are both evaluated on (a built-in task name or a task YAML file)",
    )
    variants_eval_limit: int = Field(
        default=50, ge=1, le=100_000, description="Items of variants_eval_task a variant's measurement uses"
    )

    @field_validator("evaluation_model_dirs", mode="before")
    @classmethod
    def _split_folders(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'baton.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
