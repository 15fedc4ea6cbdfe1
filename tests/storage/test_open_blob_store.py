"""Choosing the backend from BATON_STORAGE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.core.errors import ConfigurationError
from baton.storage import LocalBlobStore, S3BlobStore, open_blob_store


@pytest.mark.parametrize("url", [None, ""])
def test_default_is_a_folder_in_the_data_dir(tmp_path: Path, url: str | None) -> None:
    store = open_blob_store(url, tmp_path)
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"


def test_file_url_and_plain_path(tmp_path: Path) -> None:
    by_url = open_blob_store(f"file://{tmp_path}/by-url", tmp_path / "data")
    assert isinstance(by_url, LocalBlobStore)
    assert by_url.root == tmp_path / "by-url"
    by_path = open_blob_store(str(tmp_path / "by-path"), tmp_path / "data")
    assert isinstance(by_path, LocalBlobStore)
    assert by_path.root == tmp_path / "by-path"


def test_s3_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("BATON_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    store = open_blob_store("s3://my-bucket/some/prefix/", tmp_path)
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "some/prefix")
    assert store.blob_key("a" * 64) == "some/prefix/blobs/" + "a" * 64
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert not (tmp_path / "blobs").exists()

    bare = open_blob_store("s3://my-bucket", tmp_path)
    assert isinstance(bare, S3BlobStore)
    assert bare.blob_key("b" * 64) == "blobs/" + "b" * 64


@pytest.mark.parametrize("url", ["gs://bucket/prefix", "http://example.com/blobs", "s3:///prefix"])
def test_unsupported_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_blob_store(url, tmp_path)
    assert "s3://bucket/prefix" in caught.value.message + caught.value.hint


def test_file_url_with_a_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_blob_store("file://host/x", tmp_path)
    assert "file:///absolute/path" in caught.value.hint
