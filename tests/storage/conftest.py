"""Blob store fixtures: every test runs against a local folder and a real S3-protocol server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from baton.storage import BlobStore, LocalBlobStore
from baton.storage.s3 import S3BlobStore

TEST_BUCKET = "baton-test"
# Dummy credentials and a fixed region; the config files are pointed away so that a
# developer's own AWS setup can never leak into (or be touched by) the tests.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
AWS_VARIABLES_TO_CLEAR = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "BATON_S3_ENDPOINT_URL")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {url} within 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server process on a free loopback port, with fake AWS credentials set."""
    folder = tmp_path_factory.mktemp("moto")
    with pytest.MonkeyPatch.context() as patch:
        for name in AWS_VARIABLES_TO_CLEAR:
            patch.delenv(name, raising=False)
        for name, value in FAKE_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        patch.setenv("AWS_CONFIG_FILE", str(folder / "aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "aws-credentials"))
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log_path = folder / "moto.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_answering(f"{endpoint}/moto-api/", process, log_path)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=TEST_BUCKET)
    return TEST_BUCKET


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """An empty blob store of each backend (S3 stores get their own prefix in a shared bucket)."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "store")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket: str = request.getfixturevalue("s3_bucket")
    return S3BlobStore(bucket, f"test-{uuid.uuid4().hex}", endpoint_url=endpoint)


@pytest.fixture
def leftovers() -> Callable[[BlobStore], list[str]]:
    """Lists what unfinished uploads left in a store: temporaries, parts, open S3 uploads."""

    def list_leftovers(store: BlobStore) -> list[str]:
        if isinstance(store, LocalBlobStore):
            # Each temporary file and each part, like the S3 listing below.
            return sorted(
                str(path.relative_to(store.root))
                for folder in (store.tmp_dir, store.multipart_dir)
                for path in folder.rglob("*")
                if path.is_file() or not any(path.iterdir())
            )
        assert isinstance(store, S3BlobStore)
        found: list[str] = []
        for folder in ("tmp", "multipart"):
            response = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.folder_key(folder))
            found += [item["Key"] for item in response.get("Contents", [])]
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{store.prefix}/")
        found += [f"open upload of {upload['Key']}" for upload in uploads.get("Uploads", [])]
        return sorted(found)

    return list_leftovers
