"""Reading one untrusted document in a worker process with limits on time, memory and inflation.

A PDF is a program for its reader: a 1 MB file can inflate to gigabytes (a FlateDecode stream of
zeros), and a 120 KB file of text operators can keep pdfminer busy for minutes. ``bounded(fn,
path, ...)`` runs ``fn(path, ...)`` in a fresh worker process (forked from a ``forkserver`` that
has imported :mod:`connectors.pdf` once, so a worker costs milliseconds, not an interpreter
start) and

- caps the worker's address space (``RLIMIT_AS``, :attr:`Limits.memory_mb`), so a bomb raises
  MemoryError or kills the worker, never the run's process;
- caps what the document's streams may inflate to in total (:attr:`Limits.inflated_mb`): before
  any reader runs, :func:`check_inflation` inflates every zlib stream of the raw file once
  (1 MiB at a time, output dropped), so the bound holds whichever library decompresses next
  (PDFium does in C); an image XObject is held to the size its dictionary declares instead
  (each at most the budget; reading text never decodes one, rendering does at that size); the
  worker's pdfminer also gets a ``zlib`` whose ``decompress`` stops at the remaining budget;
- kills the worker after :attr:`Limits.seconds` of wall time.

Crossing a limit is an :class:`~backoffice.errors.InputError` naming the file (so a bot queues
that document as an INPUT exception and the run goes on); an ``InputError`` the worker raised
comes back with its file and page. Limits come from ``backoffice.settings`` (``pdf_timeout_seconds``,
``pdf_max_memory_mb``, ``pdf_max_inflated_mb``).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar, cast

from backoffice.errors import InputError
from backoffice.settings import get_settings

__all__ = [
    "Limits",
    "bounded",
    "bounded_map",
    "check_inflation",
    "current_limits",
    "image_size",
    "limits_from_settings",
    "session",
]

T = TypeVar("T")
MIB = 1024 * 1024
_PRELOAD = ["connectors.pdf"]
MAX_CALLS = 200  # documents one session worker reads before it is replaced


@dataclass(frozen=True)
class Limits:
    """What one document may cost: wall seconds, worker address space and inflated stream bytes."""

    seconds: float = 30.0
    memory_mb: int = 1024
    inflated_mb: int = 256


def limits_from_settings() -> Limits:
    s = get_settings()
    return Limits(
        seconds=s.pdf_timeout_seconds, memory_mb=s.pdf_max_memory_mb, inflated_mb=s.pdf_max_inflated_mb
    )


_CURRENT: ContextVar[Limits | None] = ContextVar("pdf_sandbox_limits", default=None)


def current_limits() -> Limits:
    """The limits of the document being read: in a worker, the ones the parent sent with it (a
    worker's own settings may be older than the parent's); elsewhere the settings'."""
    return _CURRENT.get() or limits_from_settings()


class InflationLimit(Exception):
    """Raised inside the worker when the document's streams inflate beyond the budget."""


class _BoundedZlib:
    """``zlib`` for pdfminer inside a worker: ``decompress`` stops at the document's budget."""

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.budget = budget

    def decompress(self, data: bytes, *args: Any, **kwargs: Any) -> bytes:
        d = zlib.decompressobj()
        out = d.decompress(data, self.left + 1)
        if len(out) > self.left:
            raise InflationLimit(f"its streams inflate beyond {self.budget // MIB} MiB")
        self.left -= len(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(zlib, name)


_STREAM = re.compile(rb"(?<!end)stream\r?\n")
MAX_DEFLATE_RATIO = 1032  # zlib's bound on what one compressed byte can inflate to (zlib.net FAQ)
_CHUNK = 1 << 20
_DICT_WINDOW = 1 << 16  # how far before ``stream`` a stream's dictionary is looked for
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_WIDTH = re.compile(rb"/Width\s+(\d+)\b(?!\s+\d+\s+R)")
_HEIGHT = re.compile(rb"/Height\s+(\d+)\b(?!\s+\d+\s+R)")
_BPC = re.compile(rb"/BitsPerComponent\s+(\d+)\b(?!\s+\d+\s+R)")
_MASK = re.compile(rb"/ImageMask\s+true\b")
# components of a colour space named in the image's own dictionary; any other (ICCBased,
# Separation, an indirect one...) counts as four, DeviceN as its maximum, 32
_COMPONENTS = (
    (re.compile(rb"/ColorSpace\s*\[?\s*/(DeviceN)\b"), 32),
    (re.compile(rb"/ColorSpace\s*\[?\s*/(Indexed|I|Separation)\b"), 1),
    (re.compile(rb"/ColorSpace\s*\[?\s*/(DeviceGray|CalGray|G)\b"), 1),
    (re.compile(rb"/ColorSpace\s*\[?\s*/(DeviceRGB|CalRGB|RGB|Lab)\b"), 3),
    (re.compile(rb"/ColorSpace\s*\[?\s*/(DeviceCMYK|CMYK)\b"), 4),
)


def image_size(dictionary: bytes) -> tuple[int, int, int] | None:
    """``(width, height, decoded bytes)`` an image XObject's dictionary declares: one row is
    ``width x components x BitsPerComponent / 8`` bytes rounded up, plus the PNG predictor's byte.
    None when it is not an image or its size is not written in it (an indirect /Width...)."""
    if not _IMAGE.search(dictionary):
        return None
    w, h = _WIDTH.search(dictionary), _HEIGHT.search(dictionary)
    if not (w and h):
        return None
    width, height = int(w[1]), int(h[1])
    if _MASK.search(dictionary):
        components, bits = 1, 1
    else:
        components = next((n for pattern, n in _COMPONENTS if pattern.search(dictionary)), 4)
        b = _BPC.search(dictionary)
        bits = int(b[1]) if b else 16
    return width, height, height * ((width * components * bits + 7) // 8 + 1)


def _inflate(d: Any, chunk: bytes, left: int) -> int:
    """Bytes left of ``left`` after inflating ``chunk`` (one stream) 1 MiB at a time, the output
    dropped; negative as soon as it passes ``left``."""
    while chunk:
        out = d.decompress(chunk, _CHUNK)
        left -= len(out)
        if left < 0:
            return left
        chunk = d.unconsumed_tail
        if d.eof or not out:  # the stream ended (what follows is not ours) or gave nothing
            break
    return left


def check_inflation(path: str | os.PathLike[str], budget: int) -> None:
    """Inflate every zlib stream of the raw file once, discarding the output, and raise
    :class:`InflationLimit` when they add up to more than ``budget`` bytes.

    Whatever library reads the document next (pdfminer for attachments, PDFium in C for text
    and pages), it can then not inflate more than this: the bound does not depend on which
    reader decompresses. Memory stays flat (output is drawn 1 MiB at a time and dropped).

    An image XObject (``/Subtype /Image`` with its /Width and /Height written in its dictionary)
    is held to its own declared size instead (:func:`image_size`): refused when that is past
    ``budget`` or when its stream inflates past it, and not counted in the document's total.
    Reading text and embedded files never decodes an image; rendering decodes it at its native
    size, which is then what it declares (and ``connectors.pdf`` refuses to render a page whose
    images come to more than the budget). A big scan or a high-resolution page image is read;
    a bomb, image or not, is not. A stream that calls itself an image but is a page's content is
    inflated by PDFium when the page loads: the worker's address-space cap bounds that.

    A stream is inflated only when it could matter: one zlib stream gives at most
    :data:`MAX_DEFLATE_RATIO` times its compressed bytes, so an image stream that short cannot
    pass its declared size, and of the other streams the largest are inflated until the rest,
    even at that ratio, fit in what is left of the budget (a file whose every byte at that ratio
    fits, at 256 MiB any file under ~254 KiB, most invoices, is not even read)."""
    if Path(path).stat().st_size * MAX_DEFLATE_RATIO <= budget:
        return
    data = Path(path).read_bytes()
    others: list[tuple[int, int, int]] = []  # (compressed bytes, start, end) of non-image streams
    for m in _STREAM.finditer(data):
        start = m.end()
        end = data.find(b"endstream", start)
        if end < 0:
            end = len(data)
        head = data.rfind(b" obj", max(0, m.start() - _DICT_WINDOW), m.start())
        image = image_size(data[head : m.start()]) if head >= 0 else None
        if image is None:
            others.append((end - start, start, end))
            continue
        width, height, declared = image
        if declared > budget:
            raise InflationLimit(
                f"an image of {width} x {height} declares {declared / MIB:.0f} MiB decoded, "
                f"beyond {budget // MIB} MiB"
            )
        if (end - start) * MAX_DEFLATE_RATIO <= declared:
            continue  # too short to inflate past its declared size
        try:
            over = _inflate(zlib.decompressobj(), data[start:end], declared) < 0
        except zlib.error:
            continue  # not a zlib stream (DCT, JPX...): not ours to bound here
        if over:
            raise InflationLimit(
                f"an image stream of {width} x {height} inflates beyond the "
                f"{declared / MIB:.1f} MiB its dictionary declares"
            )
    others.sort(reverse=True)
    bound = sum(n for n, _, _ in others) * MAX_DEFLATE_RATIO  # what the streams not inflated can give
    left = budget
    for n, start, end in others:
        if bound <= left:
            return
        bound -= n * MAX_DEFLATE_RATIO
        try:
            left = _inflate(zlib.decompressobj(), data[start:end], left)
        except zlib.error:
            continue  # not a zlib stream (other filters): not ours to bound here
        if left < 0:
            raise InflationLimit(f"its streams inflate beyond {budget // MIB} MiB")


def _run(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> tuple[str, Any]:
    """One call inside a worker, with this document's own inflation budget: ``(kind, value)``."""
    import pdfminer.pdftypes

    pdfminer.pdftypes.zlib = _BoundedZlib(limits.inflated_mb * MIB)  # type: ignore[assignment]
    token = _CURRENT.set(limits)
    try:
        if args and isinstance(args[0], str | os.PathLike) and Path(args[0]).is_file():
            check_inflation(args[0], limits.inflated_mb * MIB)
        return ("ok", fn(*args, **kwargs))
    except InputError as exc:
        return (
            "input",
            {
                k: getattr(exc, k, None)
                for k in ("message", "file", "sheet", "row", "column", "field", "page", "code")
            },
        )
    except InflationLimit as exc:
        return ("limit", str(exc))
    except MemoryError:
        return ("limit", f"reading it needs more than {limits.memory_mb} MiB")
    except Exception as exc:  # a reader defect on a hostile file: one clean error, never a crash
        return ("error", f"{type(exc).__name__}: {exc}")
    finally:
        _CURRENT.reset(token)


def _send(conn: Connection, result: tuple[str, Any], limits: Limits) -> None:
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("limit", f"reading it needs more than {limits.memory_mb} MiB"))


def _cap_cpu(seconds: float) -> None:
    """CPU seconds this call may use from now: the soft limit moves per call (SIGXCPU ends the
    worker); the hard limit cannot be raised again, so a reused worker keeps it as it was."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(use.ru_utime + use.ru_stime + seconds) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _worker(
    conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> None:
    memory = limits.memory_mb * MIB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        _send(conn, _run(fn, args, kwargs, limits), limits)
    finally:
        conn.close()


def _serve(conn: Connection, memory_mb: int) -> None:
    """A session's worker: one batch of documents at a time (``fn`` over each ``args`` of the
    batch), each document with its own time, CPU and inflation limits and its own result message,
    sent as soon as it is read (the parent times each one; the worker never waits for the parent
    between the documents of a batch). After a result that is not ``ok`` or ``input`` the worker
    reads nothing more: the parent replaces it."""
    memory = memory_mb * MIB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    while True:
        try:
            fn, batch, kwargs, limits = conn.recv()
        except EOFError:
            return
        for args in batch:
            _cap_cpu(limits.seconds)
            result = _run(fn, args, kwargs, limits)
            _send(conn, result, limits)
            if result[0] not in ("ok", "input"):
                break


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


class _Worker:
    """The one worker process a :func:`session` reuses. A worker that crossed a limit, failed
    or died is killed and the next call starts a fresh one; after :data:`MAX_CALLS` documents it
    is replaced too, so no document's leftovers accumulate."""

    def __init__(self) -> None:
        self.proc: Any = None
        self.conn: Connection | None = None
        self.memory_mb = 0
        self.calls = 0
        self.lock = threading.Lock()

    def _start(self, memory_mb: int) -> None:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_serve, args=(child, memory_mb), daemon=True)
        proc.start()
        child.close()
        self.proc, self.conn, self.memory_mb, self.calls = proc, parent, memory_mb, 0

    def close(self) -> int | None:
        """End the worker (if any); its exit code."""
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if conn is not None:
            conn.close()  # the worker's recv() sees EOF and returns
        if proc is None:
            return None
        proc.join(0.5)
        if proc.is_alive():
            proc.kill()
            proc.join()
        return int(proc.exitcode) if proc.exitcode is not None else None

    def call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
    ) -> tuple[str, Any]:
        return self.call_many(fn, [args], kwargs, limits)[0]

    def call_many(
        self, fn: Callable[..., Any], batch: list[tuple[Any, ...]], kwargs: dict[str, Any], limits: Limits
    ) -> list[tuple[str, Any]]:
        """``(kind, value)`` of ``fn(*args, **kwargs)`` for each ``args`` of ``batch``, in order.
        The documents go to the worker in one message (at most :data:`MAX_CALLS` at a time) and
        each result is waited for at most ``limits.seconds`` from the one before; a worker that
        timed out, died or crossed a limit is replaced and the rest of the batch goes to the new
        one."""
        out: list[tuple[str, Any]] = []
        with self.lock:
            while len(out) < len(batch):
                if (
                    self.proc is None
                    or not self.proc.is_alive()
                    or self.memory_mb != limits.memory_mb
                    or self.calls >= MAX_CALLS
                ):
                    self.close()
                    self._start(limits.memory_mb)
                conn = self.conn
                assert conn is not None
                todo = batch[len(out) : len(out) + MAX_CALLS - self.calls]
                self.calls += len(todo)
                try:
                    conn.send((fn, todo, kwargs, limits))
                except OSError:
                    out.append(("died", self.close()))
                    continue
                for _ in todo:
                    try:
                        if not conn.poll(limits.seconds):
                            self.proc.kill()
                            self.close()
                            out.append(("timeout", None))
                            break
                        kind, value = conn.recv()
                    except (EOFError, OSError):
                        out.append(("died", self.close()))
                        break
                    out.append((kind, value))
                    if kind not in ("ok", "input"):  # crossed a limit or a reader defect: never reused
                        self.close()
                        break
        return out


_SESSION: ContextVar[_Worker | None] = ContextVar("pdf_sandbox_session", default=None)


@contextmanager
def session() -> Iterator[None]:
    """Within the block, :func:`bounded` reuses one worker process for document after document
    (each call keeps its own time, CPU and inflation limits; the address-space limit is the
    worker's), instead of forking a fresh one per document: a batch pays the worker's start and
    warm-up once. Outside a session every call gets its own worker."""
    worker = _Worker()
    token = _SESSION.set(worker)
    try:
        yield
    finally:
        _SESSION.reset(token)
        worker.close()


def _one_shot(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> tuple[str, Any]:
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, fn, args, kwargs, limits), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(limits.seconds):
            proc.kill()
            return ("timeout", None)
        try:
            result: tuple[str, Any] = parent.recv()
        except EOFError:
            proc.join(5)
            return ("died", proc.exitcode)
    finally:
        parent.close()
        if proc.is_alive():
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return result


def _outcome(kind: str, value: Any, name: str, limits: Limits) -> Any:
    """The worker's ``(kind, value)`` as the value, or the InputError naming the file."""
    if kind == "ok":
        return value
    if kind == "timeout":
        return InputError(f"PDF takes longer than {limits.seconds:g} s to read (limit); refused", file=name)
    if kind == "died":
        return InputError(
            f"PDF reader stopped (exit {value}): the document exceeds the worker's limits "
            f"({limits.memory_mb} MiB memory, {limits.seconds:g} s)",
            file=name,
        )
    if kind == "input":
        fields = dict(value)
        message = fields.pop("message")
        return InputError(message, **fields)
    if kind == "limit":
        return InputError(f"PDF refused: {value}", file=name)
    return InputError(f"corrupt PDF: {value}", file=name)


def bounded(
    fn: Callable[..., T], path: Path | str, *args: Any, limits: Limits | None = None, **kwargs: Any
) -> T:
    """``fn(path, *args, **kwargs)`` run in a worker within ``limits`` (default: the settings):
    the :func:`session`'s worker inside one, else a worker of its own.

    ``fn`` must be a module-level function and its arguments and result picklable.
    InputError naming ``path`` when a limit is crossed or the worker dies."""
    limits = limits or limits_from_settings()
    worker = _SESSION.get()
    if worker is not None:
        kind, value = worker.call(fn, (path, *args), kwargs, limits)
    else:
        kind, value = _one_shot(fn, (path, *args), kwargs, limits)
    result = _outcome(kind, value, str(path), limits)
    if kind != "ok":
        raise result
    return cast(T, result)


def bounded_map(
    fn: Callable[..., T], paths: Sequence[Path | str], *, limits: Limits | None = None, **kwargs: Any
) -> list[T | InputError]:
    """``fn(path, **kwargs)`` for each of ``paths``, in order, as :func:`bounded` runs it (every
    limit per document; the result or the InputError naming that path), but the documents go to
    one worker as a batch: it reads them back to back, without a round trip per document. The
    :func:`session`'s worker inside one, else a worker for this batch."""
    limits = limits or limits_from_settings()
    batch = [(path,) for path in paths]
    worker = _SESSION.get()
    if worker is not None:
        results = worker.call_many(fn, batch, kwargs, limits)
    else:
        own = _Worker()
        try:
            results = own.call_many(fn, batch, kwargs, limits)
        finally:
            own.close()
    return [
        _outcome(kind, value, str(path), limits) for path, (kind, value) in zip(paths, results, strict=True)
    ]
