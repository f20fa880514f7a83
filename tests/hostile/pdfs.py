"""Hostile PDFs built in the test (never committed): a stream that inflates to 1 GiB, a page of
millions of text operators. Each is a valid PDF of one page whose content stream is FlateDecode."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

GIB = 1024 * 1024 * 1024
CHUNK = 16 * 1024 * 1024


def _deflate(chunks: Iterable[bytes]) -> bytes:
    z = zlib.compressobj(9)
    out = [z.compress(c) for c in chunks]
    out.append(z.flush())
    return b"".join(out)


def write_pdf(path: Path, content: bytes) -> Path:
    """A one-page PDF whose page content is the already-deflated ``content``."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def inflation_bomb(path: Path, size: int = GIB) -> Path:
    """About 1 MB on disk; its page content inflates to ``size`` bytes of zeros."""
    zeros = b"\0" * CHUNK
    return write_pdf(path, _deflate(zeros for _ in range(size // CHUNK)))


def text_operators(path: Path, size: int = 50 * 1024 * 1024) -> Path:
    """A small file whose page content is ``size`` bytes of text-showing operators."""
    line = b"BT /F1 1 Tf 10 10 Td (x) Tj ET\n"
    block = line * (CHUNK // len(line))
    return write_pdf(path, _deflate(block for _ in range(max(1, size // len(block)))))


def plain_invoice(path: Path, text: str) -> Path:
    """A one-page PDF showing ``text`` (one line per text line)."""
    ops = ["BT /F1 10 Tf 50 750 Td 12 TL"]
    for line in text.splitlines():
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    return write_pdf(path, zlib.compress("\n".join(ops).encode("latin-1")))
