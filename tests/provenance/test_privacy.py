"""Issue 12, item 3: a private model copied by a public one.

The copy is caught (the private repo stays a candidate), and the public report names the private
repo only by a pseudonym and a commitment: no name, no commit, no per-layer statistics or
configuration. Its readers and site admins see everything, with the salt that opens the commitment.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_service import head, renamed

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.core.sealing import model_value, opens
from baton.demo.seed import tiny_gpt2_files
from baton.hub import commits, repos
from baton.hub.models import Repo
from baton.provenance import service

SECRET = "carol/secret-weights"
# The private model's tensors carry a prefix of their own: any of its layer names in a public
# response would be per-layer information about it.
PRIVATE_PREFIX = "secretnet."


def model_repo(runtime: Runtime, owner: str, name: str, files: dict[str, bytes], *, private: bool) -> Repo:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", f"{owner}/{name}"), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
        commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="weights")
        return repo


def set_private(runtime: Runtime, repo: Repo, private: bool) -> None:
    with runtime.database.session(write=True) as session:
        row = session.get(Repo, repo.id)
        assert row is not None
        row.private = private


@pytest.fixture
def copied(runtime: Runtime, users: Any) -> tuple[Repo, str, Repo]:
    """carol's private model, and bob's public copy of its weights (under the usual tensor names), scanned."""
    original = tiny_gpt2_files(seed=31)
    secret = model_repo(runtime, "carol", "secret-weights", renamed(original, PRIVATE_PREFIX), private=True)
    copy = model_repo(runtime, "bob", "public-copy", original, private=False)
    secret_oid = head(runtime, secret)
    service.fingerprint_revision(runtime, secret, secret_oid)
    summary = service.scan_revision(runtime, copy.id, head(runtime, copy))
    # The system's own view (background job, operators): the private repo is a candidate and is caught.
    (flag,) = [f for f in summary["flags"] if f["reference"] == f"{SECRET}@{secret_oid}"]
    assert flag["verdict"] == "copied"
    return secret, secret_oid, copy


def leaks(text: str, secret_oid: str) -> list[str]:
    found = [word for word in ("secret-weights", secret_oid, secret_oid[:12], PRIVATE_PREFIX) if word in text]
    return found + re.findall(r"carol/\w+", text)


def test_the_public_sees_a_pseudonym_and_a_commitment_but_never_the_private_model(
    client: TestClient, users: Any, copied: tuple[Repo, str, Repo]
) -> None:
    _secret, secret_oid, _copy = copied
    for who in (None, "bob"):  # anonymous, and the copy's own owner (who cannot read carol's repo)
        headers = users.headers(who) if who else {}
        listing = client.get("/api/models/bob/public-copy/provenance", headers=headers)
        assert listing.status_code == 200 and not leaks(listing.text, secret_oid), listing.text
        (flag,) = listing.json()["summary"]["flags"]
        (report,) = [r for r in listing.json()["reports"] if r["id"] == flag["report_id"]]
        # The verdict, p-value and component are public; the reference is a pseudonym plus a commitment.
        assert flag["verdict"] == report["verdict"] == "copied" and report["p_value"] is not None
        assert flag["reference"] == report["reference"] == report["sealed"]["pseudonym"]
        assert flag["commitment"] == report["sealed"]["commitment"] and len(flag["commitment"]) == 64
        assert report["reference"] in flag["message"] and "salt" not in report

        detail = client.get(f"/api/provenance/reports/{report['id']}", headers=headers)
        assert detail.status_code == 200 and not leaks(detail.text, secret_oid), detail.text
        result = detail.json()["result"]
        assert result["verdict"] == "copied" and result["components"]
        assert all(set(component) == {"name", "status", "test", "p_value"} for component in result["components"])
        # Per-layer statistics and configuration are withheld (and say so).
        assert not {"evidence", "norms", "alignment", "layer_alignment", "config_likeness"} & set(result)
        assert {"evidence", "norms", "config_likeness"} <= set(result["withheld"])

        page = client.get(report["html"], headers=headers)
        assert page.status_code == 200 and not leaks(page.text, secret_oid)
        assert report["sealed"]["pseudonym"] in page.text and report["sealed"]["commitment"] in page.text
        assert "층별 통계" in page.text and "per-layer statistics and configuration are withheld" in page.text


@pytest.mark.parametrize("reader", ["carol", "alice"])  # the private repo's owner; a site admin
def test_readers_of_the_private_repo_and_admins_see_the_full_report(
    client: TestClient, users: Any, copied: tuple[Repo, str, Repo], reader: str
) -> None:
    _secret, secret_oid, _copy = copied
    headers = users.headers(reader)
    listing = client.get("/api/models/bob/public-copy/provenance", headers=headers).json()
    (flag,) = listing["summary"]["flags"]
    assert flag["reference"] == f"{SECRET}@{secret_oid}" and "commitment" not in flag
    detail = client.get(f"/api/provenance/reports/{flag['report_id']}", headers=headers).json()
    assert detail["reference"] == f"{SECRET}@{secret_oid}"
    assert detail["result"]["evidence"] and "config_likeness" in detail["result"]
    assert PRIVATE_PREFIX in client.get(detail["html"], headers=headers).text
    # The salt opens the commitment the public sees: the public record was about exactly this revision.
    public = client.get(f"/api/provenance/reports/{flag['report_id']}").json()
    assert public["sealed"] == detail["sealed"]
    assert opens(public["sealed"]["commitment"], model_value("model", SECRET, secret_oid), detail["salt"])
    assert not opens(public["sealed"]["commitment"], model_value("model", SECRET, "0" * 40), detail["salt"])


def test_access_follows_the_repos_as_they_are_now(
    client: TestClient, runtime: Runtime, users: Any, copied: tuple[Repo, str, Repo]
) -> None:
    secret, secret_oid, copy = copied
    listing = client.get("/api/models/bob/public-copy/provenance").json()
    report_id = listing["summary"]["flags"][0]["report_id"]
    # Published later, the reference shows in full to everyone.
    set_private(runtime, secret, False)
    shown = client.get(f"/api/provenance/reports/{report_id}").json()
    assert shown["reference"] == f"{SECRET}@{secret_oid}" and "evidence" in shown["result"]
    # A private subject's reports stay 404 to outsiders, whatever the reference.
    set_private(runtime, copy, True)
    assert client.get(f"/api/provenance/reports/{report_id}").status_code == 404
    assert client.get(f"/api/provenance/reports/{report_id}.html").status_code == 404
    assert client.get(f"/api/provenance/reports/{report_id}", headers=users.headers("bob")).status_code == 200
