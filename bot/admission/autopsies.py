"""The image reports the admission gate decides from, within its deadline.

An image is named by its manifest digest (one small registry read). Its report comes from the database
when any replica has read it before; otherwise its autopsy starts in the background, once per digest
in this process, and the review waits for it only until the deadline. A review that runs out of time
is answered without it (fail-open); the autopsy goes on and stores its report, so the next review of
the same image is a cache hit.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
from collections.abc import Callable

from bot.deadline import Deadline, DeadlineExceeded
from bot.images.autopsy import ImageReport, autopsy
from bot.logs import carry_log_context
from bot.ports import CoronerError, ImageReader
from bot.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

# A background autopsy is not bound by the review's deadline, but by this: a multi-gigabyte image read
# from a slow registry takes minutes, and its report serves every later review of the image.
BACKGROUND_SECONDS = 600.0


class StillReading(CoronerError):
    """The image's autopsy did not finish before the review's deadline; it goes on in the background."""


class AutopsyCache:
    def __init__(self, store: Store, images: Callable[[str | None], ImageReader], *,
                 workers: int = 2, background_seconds: float = BACKGROUND_SECONDS) -> None:
        """`images(platform)` makes a reader per autopsy (its byte budget is per autopsy) that picks the
        `platform` (os/arch, None: the configured one) from a multi-arch index; one more reader per platform
        is kept for naming digests, so that a cache hit reuses its connections instead of opening new ones."""
        self._store = store
        self._images = images
        self._manifests: dict[str | None, ImageReader] = {None: images(None)}
        self._background_seconds = background_seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate-autopsy")
        self._lock = threading.Lock()
        self._running: dict[str, concurrent.futures.Future[ImageReport]] = {}

    def report(self, ref: str, deadline: Deadline, platform: str | None = None) -> ImageReport:
        """`ref`'s report (the `platform` image of an index): cached, or read now if that ends before
        `deadline`. Raises `ImageReadError` (`ImageNotFound`: `ref` does not exist), or `StillReading` when
        the deadline comes first (the autopsy goes on in the background).

        The cache is keyed by the digest of the platform's own manifest, so the images of one index for
        two platforms are two entries."""
        try:
            digest = self._manifest_reader(platform).manifest(ref, deadline=deadline).digest
        except DeadlineExceeded:
            # The registry is slow even to name the digest: read the image anyway, for the next review.
            self._start(ref, None, platform)
            raise StillReading(f"{ref}: the registry did not answer in time; the image is being read and the "
                               "next review of it is judged from the cache") from None
        if digest is not None:
            cached = self._cached(digest)
            if cached is not None:
                return dataclasses.replace(cached, ref=ref)
        future = self._start(ref, digest, platform)
        try:
            return future.result(timeout=max(deadline.remaining(), 0.0))
        except concurrent.futures.TimeoutError:
            raise StillReading(f"{ref} is not in the autopsy cache yet; it is being read and the next "
                               "review of it is judged from the cache") from None

    def _manifest_reader(self, platform: str | None) -> ImageReader:
        with self._lock:
            reader = self._manifests.get(platform)
            if reader is None:
                reader = self._manifests[platform] = self._images(platform)
            return reader

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _cached(self, digest: str) -> ImageReport | None:
        try:
            with self._store.unit_of_work() as uow:
                report = uow.image_autopsies.get(digest)
                uow.commit()  # `get` deletes an entry it cannot decode
                return report
        except StoreUnavailable as exc:
            log.warning("autopsy cache not read (%s): reading %s from the registry", exc, digest)
            return None

    def _start(self, ref: str, digest: str | None, platform: str | None) -> concurrent.futures.Future[ImageReport]:
        key = digest or f"ref:{ref}:{platform}"
        with self._lock:
            running = self._running.get(key)
            if running is None:
                running = self._pool.submit(carry_log_context(self._fill), ref, key, platform)
                self._running[key] = running
            return running

    def _fill(self, ref: str, key: str, platform: str | None) -> ImageReport:
        try:
            report = autopsy(self._images(platform), ref, deadline=Deadline.after(self._background_seconds))
            digest = report.manifest.digest
            if digest is not None:
                try:
                    with self._store.unit_of_work() as uow:
                        uow.image_autopsies.add(digest=digest, report=report)
                        uow.commit()
                except StoreUnavailable as exc:
                    log.warning("autopsy of %s not cached: %s", ref, exc)
            log.info("autopsy of %s cached", ref, extra={"digest": digest, "size_bytes": report.totals.size_bytes})
            return report
        except CoronerError as exc:
            log.warning("autopsy of %s for the admission gate failed: %s", ref, exc)
            raise
        finally:
            with self._lock:
                self._running.pop(key, None)
