"""Upload of a folder with ``HfApi.upload_folder`` into Baton vs ``openssl dgst -sha256`` of it.

Hashing every byte once is the least work any content-addressed upload must do, so the
throughput of one ``openssl dgst -sha256 <all files>`` process, as a user would type it, is
the yardstick. The upload runs the whole client path: sha256 of each file on the client,
preupload, the LFS batch API, multipart PUTs, Baton verifying and storing each blob, and the
commit. Each upload goes into a fresh server (fresh data folder), so no byte is deduplicated.
The "client sha256 pass" column times the client's own sha256 pass alone (what ``upload_folder`` does first,
in 5 threads, before it sends a byte), a floor that no server can lower.
The "client CPU" and "server CPU" columns are the CPU seconds each process spent on the upload
(all threads, user and system); their sum spread over the machine's cores is the shortest time
the upload could take, which the script prints as a ceiling on the ratio.
The "durable write" column copies the same files into the data folder's filesystem and fsyncs
them, with no hashing and no network: the floor the disk sets for any server that stores the
bytes durably before it answers, which the script also prints as a ceiling on the ratio.
``--work-dir /dev/shm`` puts the servers' data folders in memory, which lifts that floor and
leaves the CPU ceiling.

    .venv/bin/python bench/upload_vs_openssl.py --files 8 --file-size 128MiB --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import (
    GIB,
    MIB,
    baton_server,
    check_free_disk,
    cpu_seconds,
    load_average,
    markdown_table,
    median,
    package_versions,
    parse_size,
    write_results,
    write_safetensors_file,
)
from huggingface_hub import CommitOperationAdd, HfApi


def openssl_seconds(files: list[Path]) -> float:
    os.sync()
    start = time.perf_counter()
    subprocess.run(["openssl", "dgst", "-sha256", *map(str, files)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def client_hash_seconds(files: list[Path]) -> float:
    """The sha256 pass ``upload_folder`` makes on the client before sending anything (5 threads)."""
    operations = [CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path)) for path in files]
    os.sync()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as executor:
        list(executor.map(lambda operation: operation.upload_info.sha256, operations))
    return time.perf_counter() - start


def durable_write_seconds(files: list[Path], folder: Path) -> float:
    """Copy the files into ``folder`` and fsync them (5 at a time): the disk's floor for the upload.

    This is the least any server that keeps the bytes must do after receiving them: write them to
    the filesystem its data folder is on and make them durable before saying so, here with no
    hashing, no network and no database. When it alone takes more than twice openssl's time, no
    durable upload can reach a ratio of 0.5 on this machine.
    """
    folder.mkdir()

    def copy(source: Path) -> None:
        destination = os.open(folder / source.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with source.open("rb", buffering=0) as reader:
                while block := reader.read(MIB):
                    os.write(destination, block)
            os.fsync(destination)
        finally:
            os.close(destination)

    os.sync()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as executor:
        list(executor.map(copy, files))
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    elapsed = time.perf_counter() - start
    shutil.rmtree(folder)
    return elapsed


def baton_seconds(folder: Path, base_dir: str | None) -> tuple[float, float, float]:
    """Wall time of the upload, and the CPU seconds the client and the server spent on it."""
    with baton_server(base_dir=base_dir) as server:
        api = HfApi(endpoint=server.url, token=server.token)
        repo_id = f"{server.user}/bench-upload"
        api.create_repo(repo_id)
        os.sync()
        server_cpu, client_cpu = cpu_seconds(server.pid), cpu_seconds(os.getpid())
        start = time.perf_counter()
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload shards")
        elapsed = time.perf_counter() - start
        server_cpu = cpu_seconds(server.pid) - server_cpu
        client_cpu = cpu_seconds(os.getpid()) - client_cpu
        files = {entry.rfilename for entry in api.model_info(repo_id).siblings or []}
        missing = {path.name for path in folder.iterdir()} - files
        if missing:
            raise SystemExit(f"upload incomplete, missing {sorted(missing)}")
    return elapsed, client_cpu, server_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8, help="number of files (default 8)")
    parser.add_argument("--file-size", default="128MiB", help="size of each file (default 128MiB)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--work-dir", default=None, help="where to put temporary files (default: system temp)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    file_size = parse_size(args.file_size)
    total = file_size * args.files
    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=args.work_dir))
    try:
        # The source files, then in the server: multipart parts and the joined blobs.
        check_free_disk(work, 3 * total + GIB)
        folder = work / "model"
        folder.mkdir()
        files = []
        for index in range(args.files):
            path = folder / f"model-{index + 1:05d}-of-{args.files:05d}.safetensors"
            write_safetensors_file(path, file_size)
            files.append(path)
        openssl_seconds(files)  # untimed: brings the files into the page cache for both sides
        times: dict[str, list[float]] = {
            "baton": [],
            "openssl": [],
            "client_hash": [],
            "client_cpu": [],
            "server_cpu": [],
            "durable_write": [],
        }
        for run in range(args.runs):
            order = ("baton", "openssl") if run % 2 == 0 else ("openssl", "baton")
            for label in order:
                if label == "baton":
                    elapsed, client_cpu, server_cpu = baton_seconds(folder, args.work_dir)
                    times["baton"].append(elapsed)
                    times["client_cpu"].append(client_cpu)
                    times["server_cpu"].append(server_cpu)
                else:
                    times["openssl"].append(openssl_seconds(files))
            times["client_hash"].append(client_hash_seconds(files))
            times["durable_write"].append(durable_write_seconds(files, work / f"durable-{run}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    throughput = {label: [total / MIB / t for t in times[label]] for label in ("baton", "openssl", "client_hash")}
    medians = {label: median(values) for label, values in throughput.items()}
    ratio = medians["baton"] / medians["openssl"]
    rows = [
        [
            f"run {index + 1}",
            f"{times['baton'][index]:.2f} s",
            f"{throughput['baton'][index]:.0f}",
            f"{times['openssl'][index]:.2f} s",
            f"{throughput['openssl'][index]:.0f}",
            f"{throughput['baton'][index] / throughput['openssl'][index]:.2f}",
            f"{times['client_hash'][index]:.2f} s",
            f"{times['durable_write'][index]:.2f} s",
            f"{times['client_cpu'][index]:.2f} s",
            f"{times['server_cpu'][index]:.2f} s",
        ]
        for index in range(args.runs)
    ]
    rows.append(
        [
            "**median**",
            f"{median(times['baton']):.2f} s",
            f"**{medians['baton']:.0f}**",
            f"{median(times['openssl']):.2f} s",
            f"**{medians['openssl']:.0f}**",
            f"**{ratio:.2f}**",
            f"{median(times['client_hash']):.2f} s",
            f"{median(times['durable_write']):.2f} s",
            f"{median(times['client_cpu']):.2f} s",
            f"{median(times['server_cpu']):.2f} s",
        ]
    )
    print(
        f"upload_folder of {args.files} x {file_size / MIB:.0f} MiB ({total / MIB:.0f} MiB) vs openssl dgst -sha256, "
        "MiB/s (higher is better); target ratio >= 0.5"
    )
    print()
    print(
        markdown_table(
            [
                "",
                "Baton upload",
                "Baton MiB/s",
                "openssl",
                "openssl MiB/s",
                "Baton / openssl",
                "client sha256 pass",
                "durable write",
                "client CPU",
                "server CPU",
            ],
            rows,
        )
    )
    print()
    print(f"ratio of medians Baton/openssl = {ratio:.2f} -> target {'met' if ratio >= 0.5 else 'NOT met'}")
    print(
        f"the client's sha256 pass alone (before it sends a byte) takes {median(times['client_hash']):.2f} s, "
        f"{median(times['client_hash']) / median(times['openssl']):.0%} of openssl's time"
    )
    floor = median(times["durable_write"])
    print(
        f"writing the same bytes durably into the data folder's filesystem alone (no hashing, no network) takes "
        f"{floor:.2f} s: a ceiling of {median(times['openssl']) / floor:.2f} on the ratio for any server that stores "
        "them before it answers"
    )
    cores = os.cpu_count() or 1
    cpu = median([c + s for c, s in zip(times["client_cpu"], times["server_cpu"], strict=True)])
    print(
        f"the upload used {cpu:.2f} CPU seconds (client and server, median), {cpu / median(times['baton']):.1f} of "
        f"{cores} cores busy; spread perfectly over {cores} cores that work alone takes {cpu / cores:.2f} s, "
        f"a ceiling of {median(times['openssl']) / (cpu / cores):.2f} on the ratio on this machine"
    )
    if not args.no_json:
        openssl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
        path = write_results(
            "upload_vs_openssl",
            {
                "files": args.files,
                "file_size_bytes": file_size,
                "runs": args.runs,
                "seconds": times,
                "mib_per_s": throughput,
                "median_mib_per_s": medians,
                "ratio": ratio,
                "versions": package_versions("huggingface_hub", "httpx", "uvicorn", "starlette")
                | {"openssl": openssl_version},
            },
        )
        print(f"results written to {path}")
    print(f"load average at the end: {load_average()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
