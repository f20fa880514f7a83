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


def write_objects(path: Path, objects: list[bytes]) -> Path:
    """A PDF of these objects (object n is ``objects[n-1]``, object 1 the catalog)."""
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


def _page_objects(content: bytes, catalog_extra: bytes = b"") -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def write_pdf(path: Path, content: bytes) -> Path:
    """A one-page PDF whose page content is the already-deflated ``content``."""
    return write_objects(path, _page_objects(content))


def with_attachment(
    path: Path, name: str, data: bytes, *, name_tree: bool = True, af: bool = True, text: str = "Invoice"
) -> Path:
    """A one-page PDF showing ``text`` that embeds ``data`` (deflated) as ``name``, listed in the
    EmbeddedFiles name tree and/or the catalog's /AF array (Factur-X lists it in both)."""
    escaped = name.encode("latin-1")
    extra = b""
    if name_tree:
        extra += b"/Names << /EmbeddedFiles << /Names [(" + escaped + b") 6 0 R] >> >> "
    if af:
        extra += b"/AF [6 0 R] "
    objects = _page_objects(zlib.compress(f"BT /F1 10 Tf 50 750 Td ({text}) Tj ET".encode()), extra)
    return write_objects(path, [*objects, *_embedded_file(escaped, data, 7)])


def _embedded_file(escaped: bytes, data: bytes, ref: int) -> list[bytes]:
    """The file specification of an XML attachment and its (deflated) stream, object ``ref``."""
    stream = _deflate([data])
    return [
        b"<< /Type /Filespec /F (" + escaped + b") /UF (" + escaped + b") /AFRelationship /Data "
        b"/EF << /F %d 0 R >> >>" % ref,
        b"<< /Type /EmbeddedFile /Subtype /text#2Fxml /Length %d /Filter /FlateDecode >>\nstream\n"
        % len(stream)
        + stream
        + b"\nendstream",
    ]


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


def image_xobject(width: int, height: int, colour: bytes = b"/DeviceRGB", data: bytes | None = None) -> bytes:
    """An image XObject of ``width`` x ``height`` 8-bit pixels in ``colour``, FlateDecode: of
    ``data`` (raw bytes) when given, else of as many zero bytes as its dictionary declares."""
    components = {b"/DeviceRGB": 3, b"/DeviceGray": 1, b"/DeviceCMYK": 4}[colour]
    if data is None:
        row = b"\0" * (width * components)
        stream = _deflate(row for _ in range(height))
    else:
        stream = _deflate([data])
    return (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
        b"/BitsPerComponent 8 /Length %d /Filter /FlateDecode >>\nstream\n"
        % (width, height, colour, len(stream))
        + stream
        + b"\nendstream"
    )


def with_images(
    path: Path, images: list[bytes], *, text: str = "Invoice", attachment: tuple[str, bytes] | None = None
) -> Path:
    """A one-page PDF showing ``text`` and drawing each of ``images`` (:func:`image_xobject`),
    embedding ``attachment`` (name, bytes) in the EmbeddedFiles name tree and /AF when given."""
    first = 6
    names = b" ".join(b"/Im%d %d 0 R" % (i, first + i) for i in range(len(images)))
    draws = b" ".join(b"q 100 0 0 100 50 %d cm /Im%d Do Q" % (50 + 110 * i, i) for i in range(len(images)))
    content = zlib.compress(f"BT /F1 10 Tf 50 750 Td ({text}) Tj ET ".encode() + draws)
    extra = b""
    spec = first + len(images)
    if attachment is not None:
        escaped = attachment[0].encode("latin-1")
        extra = b"/Names << /EmbeddedFiles << /Names [(%s) %d 0 R] >> >> /AF [%d 0 R] " % (
            escaped,
            spec,
            spec,
        )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << " + names + b" >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *images,
    ]
    if attachment is not None:
        objects += _embedded_file(attachment[0].encode("latin-1"), attachment[1], spec + 1)
    return write_objects(path, objects)
