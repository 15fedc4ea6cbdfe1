"""Resident memory of the Baton server while it ingests and serves one 5 GiB file.

The server's VmRSS (/proc/<pid>/status) is sampled every 50 ms from the moment it is idle,
through an upload with ``HfApi.upload_file`` (the LFS multipart path the official client takes
for large files) and a download of the whole file. The download is a raw streaming
``GET /<repo>/resolve/main/<file>`` with httpx whose bytes are hashed and dropped (the same
request ``hf_hub_download`` sends, without writing another 5 GiB to disk). The kernel's own
peak (VmHWM) is reported as well, which catches spikes shorter than the sampling interval.

By default the server runs as ``baton serve`` does out of the box, with its in-process
background worker, which scans newly committed weights (provenance); sampling goes on after
the download until the server has been idle for 2 s, so that scan is counted too.
``--no-worker`` measures the serving process alone (deployments with ``baton worker``).

    .venv/bin/python bench/memory_5gib.py --size 5GiB
    .venv/bin/python bench/memory_5gib.py --size 5GiB --no-worker
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    GIB,
    MIB,
    RssSampler,
    baton_server,
    check_free_disk,
    cpu_seconds,
    load_average,
    markdown_table,
    package_versions,
    parse_size,
    read_status_kib,
    write_results,
    write_safetensors_file,
)
from huggingface_hub import HfApi

FILENAME = "model.safetensors"
TARGET_BYTES = 300 * 1000 * 1000  # "300 MB"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def wait_until_idle(pid: int, *, quiet_seconds: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    used = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_used = cpu_seconds(pid)
        if now_used - used > 0.05:  # busy in the last half second
            quiet_since = time.monotonic()
        used = now_used
        if time.monotonic() - quiet_since >= quiet_seconds:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="5GiB", help="file size (default 5GiB)")
    parser.add_argument("--interval", type=float, default=0.05, help="sampling interval in seconds (default 0.05)")
    parser.add_argument("--work-dir", default=None, help="where to put temporary files (default: system temp)")
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="run the server without its in-process background worker (which scans uploaded weights)",
    )
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench-memory-", dir=args.work_dir))
    phases: dict[str, tuple[float, float]] = {}
    try:
        # The source, then in the server the multipart parts and the joined blob side by side.
        check_free_disk(work, 3 * size + GIB)
        source = work / FILENAME
        write_safetensors_file(source, size)
        expected_sha256 = sha256_of(source)
        with baton_server(base_dir=args.work_dir, worker=not args.no_worker) as server:
            api = HfApi(endpoint=server.url, token=server.token)
            repo_id = f"{server.user}/bench-memory"
            api.create_repo(repo_id)
            with RssSampler(server.pid, interval=args.interval) as sampler:
                origin = time.monotonic()

                def mark(name: str, start: float) -> None:
                    phases[name] = (start - origin, time.monotonic() - origin)

                start = time.monotonic()
                time.sleep(1.0)
                mark("idle", start)

                start = time.monotonic()
                api.upload_file(path_or_fileobj=str(source), path_in_repo=FILENAME, repo_id=repo_id)
                mark("upload", start)
                upload_seconds = phases["upload"][1] - phases["upload"][0]
                source.unlink()  # frees the disk before the download

                start = time.monotonic()
                digest = hashlib.sha256()
                received = 0
                url = f"{server.url}/{repo_id}/resolve/main/{FILENAME}"
                headers = {"authorization": f"Bearer {server.token}"}
                with httpx.stream("GET", url, headers=headers, timeout=120) as response:
                    response.raise_for_status()
                    for chunk in response.iter_bytes(chunk_size=10 * MIB):
                        digest.update(chunk)
                        received += len(chunk)
                mark("download", start)
                download_seconds = phases["download"][1] - phases["download"][0]
                if received != size or digest.hexdigest() != expected_sha256:
                    raise SystemExit("the downloaded bytes differ from the uploaded file")

                # With the in-process worker, the provenance scan of the new weights may still
                # run: keep sampling until the server has been idle for 2 s (at most 10 min).
                start = time.monotonic()
                wait_until_idle(server.pid, quiet_seconds=2.0, timeout=600.0)
                mark("afterwards (background work)", start)
            high_water = read_status_kib(server.pid, "VmHWM") * 1024
            samples = sampler.samples
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def peak(name: str) -> int:
        begin, end = phases[name]
        return max((rss for moment, rss in samples if begin <= moment <= end + args.interval), default=0)

    overall = max(rss for _, rss in samples)
    background_seconds = phases["afterwards (background work)"][1] - phases["afterwards (background work)"][0]
    rows = [
        ["idle (before)", "-", f"{peak('idle') / MIB:.0f}"],
        ["upload_file (LFS multipart)", f"{size / MIB / upload_seconds:.0f} MiB/s", f"{peak('upload') / MIB:.0f}"],
        ["download (streaming GET)", f"{size / MIB / download_seconds:.0f} MiB/s", f"{peak('download') / MIB:.0f}"],
        [
            f"afterwards, until idle ({background_seconds:.0f} s)",
            "-",
            f"{peak('afterwards (background work)') / MIB:.0f}",
        ],
        ["**whole run, sampled**", "", f"**{overall / MIB:.0f}**"],
        ["**whole run, VmHWM (kernel)**", "", f"**{high_water / MIB:.0f}**"],
    ]
    worst = max(overall, high_water)
    print(
        f"Baton server ({'without' if args.no_worker else 'with'} its in-process worker) resident memory "
        f"with one {size / GIB:.1f} GiB file, {len(samples)} samples every "
        f"{args.interval * 1000:.0f} ms; target peak < 300 MB"
    )
    print()
    print(markdown_table(["phase", "throughput", "peak RSS MiB"], rows))
    print()
    verdict = "met" if worst < TARGET_BYTES else "NOT met"
    print(f"peak RSS = {worst / 1e6:.0f} MB ({worst / MIB:.0f} MiB) -> target {verdict}")
    if not args.no_json:
        path = write_results(
            "memory_5gib",
            {
                "size_bytes": size,
                "interval_s": args.interval,
                "worker": not args.no_worker,
                "phases": phases,
                "peak_rss_bytes": {name: peak(name) for name in phases},
                "peak_rss_sampled_bytes": overall,
                "vm_hwm_bytes": high_water,
                "upload_seconds": upload_seconds,
                "download_seconds": download_seconds,
                "samples": samples,
                "versions": package_versions("huggingface_hub", "httpx", "uvicorn", "starlette"),
            },
        )
        print(f"results written to {path}")
    print(f"load average at the end: {load_average()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
