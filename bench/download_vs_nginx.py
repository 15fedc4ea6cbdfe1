"""Download of one large file with ``hf_hub_download``: Baton vs nginx serving the same bytes.

Baton serves the file from its own process (no redirect). nginx serves the very same file on
disk (Baton's stored blob) on another loopback port, with the headers the client needs
(``X-Repo-Commit``, ``ETag``/``X-Linked-Etag``, ``X-Linked-Size``), so the client takes exactly
the same path against both. Runs alternate the order; each run downloads into a fresh cache.

    .venv/bin/python bench/download_vs_nginx.py --size 1GiB --runs 5
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    GIB,
    MIB,
    baton_server,
    check_free_disk,
    free_port,
    load_average,
    markdown_table,
    median,
    package_versions,
    parse_size,
    stop_process,
    wait_for_http,
    write_results,
    write_safetensors_file,
)
from huggingface_hub import HfApi, hf_hub_download

REPO = "bench-download"
FILENAME = "model.safetensors"

NGINX_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
{user_line}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    # sendfile with aio threads: the fastest of the settings tried for one large file on
    # loopback here (plain sendfile blocks the single worker; see docs/benchmarks.md).
    sendfile on;
    aio threads;
    tcp_nopush on;
    keepalive_timeout 30;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        location = /{repo_id}/resolve/main/{filename} {{
            alias {blob};
            etag off;
            add_header ETag '"{sha256}"' always;
            add_header X-Linked-Etag '"{sha256}"' always;
            add_header X-Linked-Size {size} always;
            add_header X-Repo-Commit {commit} always;
        }}
    }}
}}
"""


def find_nginx() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("nginx is not installed (Debian: apt-get update && apt-get install -y nginx)")


def start_nginx(
    work: Path, *, repo_id: str, blob: Path, sha256: str, size: int, commit: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = work / "nginx.conf"
    config.write_text(
        NGINX_CONFIG.format(
            # Workers run as this same user, so they can read the blob in Baton's private folder.
            user_line="user root;" if os.geteuid() == 0 else "",
            work=work,
            port=port,
            repo_id=repo_id,
            filename=FILENAME,
            blob=blob,
            sha256=sha256,
            size=size,
            commit=commit,
        )
    )
    process = subprocess.Popen(
        [find_nginx(), "-p", str(work), "-c", str(config), "-e", str(work / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/", process)
    return process, url


def default_cache_base(size: int) -> str | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 2 * size + GIB:
        return str(shm)
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1GiB", help="file size, e.g. 1GiB or 256MiB (default 1GiB)")
    parser.add_argument("--runs", type=int, default=5, help="timed downloads per server (default 5)")
    parser.add_argument("--work-dir", default=None, help="where to put temporary files (default: system temp)")
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="folder for the client's download cache (default: /dev/shm when it has room, so the client's "
        "disk writes do not mask the servers; pass a disk folder to include them)",
    )
    parser.add_argument("--no-curl", action="store_true", help="skip the curl -o /dev/null comparison")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench-download-", dir=args.work_dir))
    nginx: subprocess.Popen[bytes] | None = None
    cache_base: Path | None = None
    try:
        check_free_disk(work, 3 * size + GIB)
        cache_parent = args.cache_dir or default_cache_base(size)
        cache_base = Path(tempfile.mkdtemp(prefix="bench-download-cache-", dir=cache_parent))
        source = work / FILENAME
        write_safetensors_file(source, size)
        sha256 = sha256_of(source)
        with baton_server(base_dir=args.work_dir) as server:
            api = HfApi(endpoint=server.url, token=server.token)
            repo_id = f"{server.user}/{REPO}"
            api.create_repo(repo_id)
            commit = api.upload_file(path_or_fileobj=str(source), path_in_repo=FILENAME, repo_id=repo_id).oid
            source.unlink()  # the blob in Baton's store is the one copy both servers read
            blob = server.blob_path(sha256)
            if blob.stat().st_size != size:
                raise SystemExit(f"stored blob {blob} has the wrong size")
            nginx_work = work / "nginx"
            nginx_work.mkdir()
            nginx, nginx_url = start_nginx(
                nginx_work, repo_id=repo_id, blob=blob, sha256=sha256, size=size, commit=commit
            )
            endpoints = {"baton": (server.url, server.token), "nginx": (nginx_url, False)}
            for label, (endpoint, _token) in endpoints.items():
                # Both must answer HEAD themselves (no redirect) with the headers the client reads.
                head = httpx.head(f"{endpoint}/{repo_id}/resolve/main/{FILENAME}", timeout=30)
                wanted = ("x-repo-commit", "x-linked-etag", "x-linked-size")
                if head.status_code != 200 or "location" in head.headers or not all(h in head.headers for h in wanted):
                    raise SystemExit(f"{label}: HEAD answered {head.status_code} {dict(head.headers)}")

            def download(label: str, verify: bool = False) -> float:
                endpoint, token = endpoints[label]
                cache = cache_base / f"cache-{label}"
                shutil.rmtree(cache, ignore_errors=True)
                os.sync()  # no write-back left over from the previous run
                start = time.perf_counter()
                path = hf_hub_download(repo_id, FILENAME, endpoint=endpoint, token=token, cache_dir=str(cache))
                elapsed = time.perf_counter() - start
                if verify and sha256_of(Path(path)) != sha256:
                    raise SystemExit(f"{label}: downloaded bytes differ from the uploaded file")
                shutil.rmtree(cache, ignore_errors=True)
                return elapsed

            def curl(label: str) -> float:
                endpoint, _token = endpoints[label]
                headers = ["-H", f"authorization: Bearer {server.token}"] if label == "baton" else []
                start = time.perf_counter()
                subprocess.run(
                    ["curl", "-sSf", "-o", "/dev/null", *headers, f"{endpoint}/{repo_id}/resolve/main/{FILENAME}"],
                    check=True,
                )
                return time.perf_counter() - start

            clients = {"hf_hub_download": download}
            if shutil.which("curl") and not args.no_curl:
                clients["curl"] = curl
            # One untimed download each: checks the bytes and warms both servers.
            download("baton", verify=True)
            download("nginx", verify=True)
            times = {client: {"baton": [], "nginx": []} for client in clients}
            for run in range(args.runs):
                order = ("baton", "nginx") if run % 2 == 0 else ("nginx", "baton")
                for client, measure in clients.items():
                    for label in order:
                        times[client][label].append(measure(label))
    finally:
        if nginx is not None:
            stop_process(nginx)
        shutil.rmtree(work, ignore_errors=True)
        if cache_base is not None:
            shutil.rmtree(cache_base, ignore_errors=True)

    summary: dict[str, dict[str, object]] = {}
    print(
        f"Download of one {size / MIB:.0f} MiB file, Baton vs nginx, MiB/s (higher is better); "
        f"hf_hub_download writes into {cache_base.parent if cache_base else '?'}, curl into /dev/null"
    )
    for client, per_server in times.items():
        throughput = {label: [size / MIB / t for t in values] for label, values in per_server.items()}
        medians = {label: median(values) for label, values in throughput.items()}
        ratio = medians["baton"] / medians["nginx"]
        summary[client] = {"seconds": per_server, "mib_per_s": throughput, "median_mib_per_s": medians, "ratio": ratio}
        rows = [
            [
                f"run {index + 1}",
                f"{throughput['baton'][index]:.0f}",
                f"{throughput['nginx'][index]:.0f}",
                f"{throughput['baton'][index] / throughput['nginx'][index]:.2f}",
            ]
            for index in range(args.runs)
        ]
        rows.append(["**median**", f"**{medians['baton']:.0f}**", f"**{medians['nginx']:.0f}**", f"**{ratio:.2f}**"])
        print()
        print(f"{client}:")
        print()
        print(markdown_table(["", "Baton MiB/s", "nginx MiB/s", "Baton / nginx"], rows))
    ratio = float(summary["hf_hub_download"]["ratio"])  # type: ignore[arg-type]
    print()
    print(
        f"hf_hub_download ratio of medians Baton/nginx = {ratio:.2f} -> target >= 0.9 "
        f"{'met' if ratio >= 0.9 else 'NOT met'}"
    )
    if not args.no_json:
        path = write_results(
            "download_vs_nginx",
            {
                "size_bytes": size,
                "runs": args.runs,
                "clients": summary,
                "versions": package_versions("huggingface_hub", "httpx", "uvicorn", "starlette"),
                "cache_dir": str(cache_base.parent) if cache_base else None,
            },
        )
        print(f"results written to {path}")
    print(f"load average at the end: {load_average()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
