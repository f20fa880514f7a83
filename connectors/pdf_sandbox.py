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
  (PDFium does in C); the worker's pdfminer also gets a ``zlib`` whose ``decompress`` stops at
  the remaining budget;
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
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from backoffice.errors import InputError
from backoffice.settings import get_settings

__all__ = ["Limits", "bounded", "check_inflation", "limits_from_settings"]

T = TypeVar("T")
MIB = 1024 * 1024
_PRELOAD = ["connectors.pdf"]


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


_STREAM = re.compile(rb"stream\r?\n")
_CHUNK = 1 << 20


def check_inflation(path: str | os.PathLike[str], budget: int) -> None:
    """Inflate every zlib stream of the raw file once, discarding the output, and raise
    :class:`InflationLimit` when they add up to more than ``budget`` bytes.

    Whatever library reads the document next (pdfminer for attachments, PDFium in C for text
    and pages), it can then not inflate more than this: the bound does not depend on which
    reader decompresses. Memory stays flat (output is drawn 1 MiB at a time and dropped)."""
    data = Path(path).read_bytes()
    left = budget
    for m in _STREAM.finditer(data):
        start = m.end()
        end = data.find(b"endstream", start)
        if end < 0:
            end = len(data)
        d = zlib.decompressobj()
        chunk = data[start:end]
        try:
            while chunk:
                out = d.decompress(chunk, _CHUNK)
                left -= len(out)
                if left < 0:
                    raise InflationLimit(f"its streams inflate beyond {budget // MIB} MiB")
                chunk = d.unconsumed_tail
                if d.eof or not out:  # the stream ended (what follows is not ours) or gave nothing
                    break
        except zlib.error:
            continue  # not a zlib stream (images, other filters): not ours to bound here


def _worker(
    conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> None:
    memory = limits.memory_mb * MIB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    import pdfminer.pdftypes

    pdfminer.pdftypes.zlib = _BoundedZlib(limits.inflated_mb * MIB)  # type: ignore[assignment]
    try:
        if args and isinstance(args[0], str | os.PathLike) and Path(args[0]).is_file():
            check_inflation(args[0], limits.inflated_mb * MIB)
        result: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except InputError as exc:
        result = (
            "input",
            {
                k: getattr(exc, k, None)
                for k in ("message", "file", "sheet", "row", "column", "field", "page", "code")
            },
        )
    except InflationLimit as exc:
        result = ("limit", str(exc))
    except MemoryError:
        result = ("limit", f"reading it needs more than {limits.memory_mb} MiB")
    except Exception as exc:  # a reader defect on a hostile file: one clean error, never a crash
        result = ("error", f"{type(exc).__name__}: {exc}")
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("limit", f"reading it needs more than {limits.memory_mb} MiB"))
    finally:
        conn.close()


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def bounded(
    fn: Callable[..., T], path: Path | str, *args: Any, limits: Limits | None = None, **kwargs: Any
) -> T:
    """``fn(path, *args, **kwargs)`` run in a worker within ``limits`` (default: the settings).

    ``fn`` must be a module-level function and its arguments and result picklable.
    InputError naming ``path`` when a limit is crossed or the worker dies."""
    limits = limits or limits_from_settings()
    name = str(path)
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, fn, (path, *args), kwargs, limits), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(limits.seconds):
            proc.kill()
            raise InputError(
                f"PDF takes longer than {limits.seconds:g} s to read (limit); refused", file=name
            )
        try:
            kind, value = parent.recv()
        except EOFError:
            proc.join(5)
            raise InputError(
                f"PDF reader stopped (exit {proc.exitcode}): the document exceeds the worker's limits "
                f"({limits.memory_mb} MiB memory, {limits.seconds:g} s)",
                file=name,
            ) from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if kind == "ok":
        return value
    if kind == "input":
        message = value.pop("message")
        raise InputError(message, **value)
    if kind == "limit":
        raise InputError(f"PDF refused: {value}", file=name)
    raise InputError(f"corrupt PDF: {value}", file=name)
