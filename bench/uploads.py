"""Uploads (issue 25): what a large upload costs the API process, and what two image
attachments cost the worker per reply.

Starts, like run.py, a throwaway PostgreSQL database, its own Redis and a Gemini stand-in,
one `gemini-clone serve` as people run it (one process, the blobs in its local folder),
then measures:

1. upload: a `--size-mib` text file (20 MiB, the default `ATTACHMENT_MAX_BYTES`, which is
   raised for the run when smaller), then a JPEG photo a little smaller, each uploaded
   `--runs` times after a small warm-up upload and deleted after each. The API process's
   VmRSS is sampled every millisecond or so during each upload and one second after it,
   and its VmHWM before and after: the text file's peak rise over the RSS before it should
   stay within 5 MiB (the upload is streamed to the store, never held whole); the photo is
   also decoded by the image check once stored, which costs what its pixels do. The API
   process's CPU time (all its threads, /proc, 10 ms ticks) is taken around each upload: a
   cost a busy machine moves less than the time. The upload's time is compared, in the
   same run, with copying the same file into the blob folder (same disk): a plain copy (to
   the page cache, as `cp` does) and a copy made durable with fsync (as the store does
   before it records a file); and, to see where the time goes, with hashing it (blobs are
   named by SHA-256) and with sending the same request to a bare uvicorn app that drops
   the body (the stand-in: HTTP and the client).
2. worker CPU: `--replies` replies without attachments, then `--replies` replies each
   carrying two `--image-kib` JPEG photos (sent to the stand-in as `inline_data`), each
   batch posted with no worker running and then drained by one new worker
   (`replies.measure_replies`): the worker's CPU per reply, from /proc, in both
   (`--replies 0` leaves this part out).

    uv run python bench/uploads.py [--size-mib 20] [--runs 3] [--replies 50]
                                   [--image-kib 1024] [--database URL]

Figures are printed, never asserted: the machine is shared. Only the memory budget of the
streamed (text) upload is judged: exit status 1 when it raised the RSS by more than
`--rss-budget-mib`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from measure import cpu_seconds, peak_rss_mb
from PIL import Image
from replies import measure_replies
from service import DEFAULT_SERVER, Service, running_service
from streams import rss_mb

MIB = 1024 * 1024
WORDS = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()


@dataclass
class RssSampler:
    """VmRSS of one process, sampled from a thread until stopped."""

    pid: int
    samples: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_mb(self.pid))
            time.sleep(0.001)

    @contextmanager
    def sampling(self) -> Iterator[None]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()


def write_text_file(path: Path, size: int) -> None:
    """`size` bytes of lines of words: a text file, taken without decoding."""
    rng = random.Random(25)
    line = b" ".join(rng.choice(WORDS) for _ in range(12)) + b"\n"
    with path.open("wb") as file:
        written = 0
        while written < size:
            piece = line * min(4096, (size - written) // len(line) + 1)
            piece = piece[: size - written]
            file.write(piece)
            written += len(piece)


def photo(kib: int, seed: int) -> bytes:
    """A JPEG of noise of about `kib` KiB (noise compresses like a detailed photo, poorly)."""
    rng = random.Random(seed)

    def jpeg(side: int) -> bytes:
        buffer = io.BytesIO()
        pixels = rng.randbytes(side * side * 3)
        Image.frombytes("RGB", (side, side), pixels).save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()

    per_pixel = len(jpeg(256)) / 256**2
    return jpeg(max(16, int((kib * 1024 / per_pixel) ** 0.5)))


def timed_copy(source: Path, folder: Path, *, durable: bool) -> float:
    """Seconds to copy `source` into `folder` (and to make it durable: file and folder
    fsynced, as the blob store does)."""
    target = folder / f"copy-{time.monotonic_ns()}"
    started = time.perf_counter()
    shutil.copyfile(source, target)
    if durable:
        with target.open("rb") as file:
            os.fsync(file.fileno())
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


@dataclass(frozen=True)
class UploadFile:
    kind: str
    path: Path
    media_type: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def pixels(self) -> int | None:
        if not self.media_type.startswith("image/"):
            return None
        with Image.open(self.path) as image:
            return image.width * image.height


def post_file(client: httpx.Client, url: str, file: UploadFile, name: str) -> httpx.Response:
    with file.path.open("rb") as content:
        # httpx reads the file in 64 KiB pieces as it sends them, with a Content-Length.
        response = client.post(url, files={"file": (name, content, file.media_type)})
    response.raise_for_status()
    return response


def timed_sha256(path: Path) -> float:
    """Seconds to hash the file (the store names a blob by its SHA-256)."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(64 * 1024):
            digest.update(chunk)
    return time.perf_counter() - started


def timed_http_sink(stand_in_url: str, file: UploadFile) -> float:
    """Seconds to send the same upload to the stand-in, a bare uvicorn app that reads the
    body and drops it: what HTTP and the client cost, with no app behind them."""
    with httpx.Client(timeout=300) as client:
        started = time.perf_counter()
        post_file(client, f"{stand_in_url}/sink", file, "sink")
        return time.perf_counter() - started


def upload_files(service: Service, size: int) -> list[UploadFile]:
    """A text file of `size` bytes (stored as it streams) and a JPEG photo a little
    smaller (also decoded once stored, as the image check does)."""
    text = UploadFile("text", service.folder / "upload.txt", "text/plain")
    write_text_file(text.path, size)
    jpeg = UploadFile("photo", service.folder / "upload.jpg", "image/jpeg")
    jpeg.path.write_bytes(photo(int(size * 0.95) // 1024, seed=3))
    return [text, jpeg]


def measure_upload(
    service: Service, api_pid: int, token: str, room: str, size: int, runs: int
) -> list[dict[str, Any]]:
    warm_up = UploadFile("text", service.folder / "warm-up.txt", "text/plain")
    write_text_file(warm_up.path, 64 * 1024)
    blob_folder = Path(service.env["BLOB_DIR"])
    results: list[dict[str, Any]] = []
    with httpx.Client(
        base_url=service.api_url, headers={"authorization": f"Bearer {token}"}, timeout=300
    ) as client:
        post_file(client, f"/chatroom/{room}/attachments", warm_up, "warm-up.txt")
        for file in upload_files(service, size):
            for run in range(runs):
                time.sleep(1)
                rss_before, hwm_before = rss_mb(api_pid), peak_rss_mb(api_pid)
                sampler = RssSampler(api_pid)
                with sampler.sampling():
                    cpu_before = cpu_seconds(api_pid)
                    started = time.perf_counter()
                    response = post_file(
                        client, f"/chatroom/{room}/attachments", file, file.path.name
                    )
                    upload_seconds = time.perf_counter() - started
                    api_cpu_seconds = cpu_seconds(api_pid) - cpu_before
                time.sleep(1)
                rss_after, hwm_after = rss_mb(api_pid), peak_rss_mb(api_pid)
                client.delete(response.headers["location"]).raise_for_status()
                # The copies go where the store writes, on the same disk, in the same run.
                plain = statistics.median(
                    timed_copy(file.path, blob_folder, durable=False) for _ in range(3)
                )
                durable = statistics.median(
                    timed_copy(file.path, blob_folder, durable=True) for _ in range(3)
                )
                figures: dict[str, Any] = {
                    "kind": file.kind,
                    "size_mib": file.size / MIB,
                    "pixels": file.pixels,
                    "upload_s": upload_seconds,
                    "upload_mib_per_s": file.size / MIB / upload_seconds,
                    "api_cpu_s": api_cpu_seconds,
                    "plain_copy_s": plain,
                    "durable_copy_s": durable,
                    "sha256_s": statistics.median(timed_sha256(file.path) for _ in range(3)),
                    "http_sink_s": statistics.median(
                        timed_http_sink(service.stand_in_url, file) for _ in range(3)
                    ),
                    "upload_over_plain_copy": upload_seconds / plain,
                    "upload_over_durable_copy": upload_seconds / durable,
                    "rss_before_mib": rss_before,
                    "rss_peak_rise_mib": max(sampler.samples, default=rss_before) - rss_before,
                    "rss_rise_after_1s_mib": rss_after - rss_before,
                    "hwm_rise_mib": hwm_after - hwm_before,
                    "samples": len(sampler.samples),
                }
                results.append(figures)
                print_upload(run + 1, figures)
    return results


def print_upload(run: int, figures: dict[str, Any]) -> None:
    print(
        f"{figures['kind']} {figures['size_mib']:.1f} MiB"
        + (f" ({figures['pixels'] / 1e6:.1f} Mpixels)" if figures["pixels"] else "")
        + f", upload {run}: {figures['upload_s']:.3f}"
        f" s ({figures['upload_mib_per_s']:.0f} MiB/s, API CPU {figures['api_cpu_s']:.2f} s);"
        f" copy {figures['plain_copy_s']:.3f} s,"
        f" durable copy {figures['durable_copy_s']:.3f} s, SHA-256 {figures['sha256_s']:.3f} s,"
        f" HTTP sink {figures['http_sink_s']:.3f} s; upload over copy"
        f" {figures['upload_over_plain_copy']:.1f}x, over durable copy"
        f" {figures['upload_over_durable_copy']:.2f}x; RSS {figures['rss_before_mib']:.1f} MiB,"
        f" +{figures['rss_peak_rise_mib']:.1f} peak ({figures['samples']} samples),"
        f" {figures['rss_rise_after_1s_mib']:+.1f} after 1 s, HWM +{figures['hwm_rise_mib']:.1f}",
        flush=True,
    )


async def upload_photos(
    service: Service, token: str, rooms: list[str], count: int, kib: int
) -> list[list[str]]:
    """Two photos uploaded for each of `count` messages (to the room message n goes to)."""
    photos = [photo(kib, seed) for seed in (1, 2)]
    async with httpx.AsyncClient(
        base_url=service.api_url, headers={"authorization": f"Bearer {token}"}, timeout=120
    ) as client:

        async def pair(n: int) -> list[str]:
            room = rooms[n % len(rooms)]
            ids = []
            for index, content in enumerate(photos):
                response = await client.post(
                    f"/chatroom/{room}/attachments",
                    files={"file": (f"photo-{n}-{index}.jpg", content, "image/jpeg")},
                )
                response.raise_for_status()
                ids.append(response.json()["id"])
            return ids

        pairs: list[list[str]] = []
        for start in range(0, count, 10):
            pairs += await asyncio.gather(*(pair(n) for n in range(start, min(count, start + 10))))
    return pairs


def measure_worker_cpu(
    service: Service, token: str, replies: int, kib: int
) -> dict[str, dict[str, float]]:
    with httpx.Client(
        base_url=service.api_url, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        rooms = [
            client.post("/chatroom", json={"title": f"photos {n}"}).json()["id"] for n in range(20)
        ]
    results = {}
    for label, attachment_ids in (
        ("without attachments", None),
        (
            f"two {kib} KiB photos",
            asyncio.run(upload_photos(service, token, rooms, replies, kib)),
        ),
    ):
        figures = asyncio.run(
            measure_replies(
                service.api_url,
                token,
                service.database_url,
                replies,
                service.stand_in_url,
                service.start_worker,
                rooms=rooms,
                attachment_ids=attachment_ids,
            )
        )
        service.processes.stop("worker")
        if figures["posted"] != replies or figures["completed"] != replies:
            raise RuntimeError(f"{label}: not every reply was posted and completed: {figures}")
        results[label] = figures
        print(
            f"worker, {label}: {figures['worker_cpu_ms_per_reply']:.2f} ms CPU a reply"
            f" ({figures['worker_cpu_ms_per_reply_from_first_claim']:.2f} from the first claim),"
            f" {figures['replies_per_second']:.0f} replies/s",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--image-kib", type=int, default=1024)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="the stand-in's, seconds (CPU is counted)"
    )
    parser.add_argument("--rss-budget-mib", type=float, default=5)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()

    size = int(args.size_mib * MIB)
    results: dict[str, object] = {"settings": vars(args)}
    with running_service(
        server_url=args.database,
        folder_prefix="gemini-clone-uploads-",
        stand_in_options=["--latency", str(args.latency)],
        settings={"LOG_LEVEL": "WARNING", "ATTACHMENT_MAX_BYTES": str(max(size, 20 * MIB))},
    ) as service:
        # The blobs in a folder of the service's own, on the disk the copies are timed on.
        service.env["BLOB_DIR"] = str(service.folder / "blobs")
        api_process = service.start_api()
        token, room = service.pro_user("+14155550100")
        print(f"{args.runs} uploads of {args.size_mib} MiB ...", flush=True)
        results["upload"] = upload = measure_upload(
            service, api_process.pid, token, room, size, args.runs
        )
        if args.replies:
            print(f"{args.replies} replies without and with two photos ...", flush=True)
            results["worker"] = measure_worker_cpu(service, token, args.replies, args.image_kib)
    print(json.dumps(results, indent=2))
    worst = {
        kind: max(run["rss_peak_rise_mib"] for run in upload if run["kind"] == kind)
        for kind in ("text", "photo")
    }
    print(
        f"largest RSS rise during a text upload: {worst['text']:.1f} MiB (the stream; budget"
        f" {args.rss_budget_mib} MiB); during a photo upload: {worst['photo']:.1f} MiB (the"
        " stream, then the image check's decode)"
    )
    if worst["text"] > args.rss_budget_mib:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
