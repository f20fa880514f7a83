"""Issue 13 on the item page: PDF pages are redacted where they show an IBAN, the original PDF is
only for roles that may unmask (audited), corrections take any number of fields in one submit,
and the words say which approver reason holds."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from backoffice.audit import entries, put_evidence
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.store import Store
from backoffice.testing import queue_items
from tests.core.toybot import RULES
from tests.inbox.conftest import IBAN, csrf_of, login, make_client, post


def _pdf_with_iban(path: Path) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 14)
    c.drawString(72, 720, "INVOICE 4711")
    c.drawString(72, 690, f"Pay to IBAN {IBAN}")
    c.showPage()
    c.save()
    return path


def _dark(png: bytes) -> int:
    im = Image.open(io.BytesIO(png)).convert("L")
    return sum(im.histogram()[:40])


def _item(store: Store, tmp_path: Path, **payload: str) -> tuple[int, str]:
    ev = put_evidence(store, _pdf_with_iban(tmp_path / "inv.pdf"), "inv.pdf", "application/pdf")
    item = Item(
        bot="toy",
        key="pdf-1",
        payload={"order_id": "O-1", "customer": "C1", "amount": "100.00", **payload},
        source=SourceRef(file="inv.pdf", locator="page 1"),
        evidence=[ev],
        violations=[Violation_(), Violation_("TOY-ROUND", "customer")],
    )
    return queue_items(store, [item], ruleset=RULES)[0], ev.sha256


def Violation_(code: str = "TOY-LIMIT", field: str = "amount"):
    from backoffice.rules import Violation

    return Violation(code=code, message="check it", field=field, expected="1000", actual="100.00")


def test_pdf_pages_are_redacted_and_the_original_is_for_unmasking_roles(bo_store, bo_users, tmp_path):
    import pypdfium2 as pdfium

    item, sha = _item(bo_store, tmp_path)
    c = make_client(bo_store)
    login(c, "associate")
    page = c.get(f"/items/{item}")
    assert page.status_code == 200 and f"/evidence/{sha}/page/1.png" in page.text
    assert f'href="/evidence/{sha}"' not in page.text  # no link to the original for this role
    shown = c.get(f"/evidence/{sha}/page/1.png")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    pdf = pdfium.PdfDocument(str(tmp_path / "inv.pdf"))
    buf = io.BytesIO()
    pdf[0].render(scale=1.4).to_pil().save(buf, format="PNG")
    pdf.close()
    # the IBAN's characters but its last 4 are blacked out: far more dark pixels than the text had
    assert _dark(shown.content) > _dark(buf.getvalue()) + 1500
    assert c.get(f"/evidence/{sha}").status_code == 403  # the original PDF shows the full IBAN
    assert entries(bo_store, action="permission.denied")[-1]["subject"] == f"evidence:{sha}"
    comp = make_client(bo_store)
    login(comp, "compliance")
    assert comp.get(f"/evidence/{sha}").status_code == 200
    assert entries(bo_store, action="pii.unmasked")[-1]["subject"] == f"evidence:{sha}"


def test_record_files_open_only_for_unmasking_roles(bo_store, bo_users, tmp_path):
    ev = put_evidence(bo_store, b'{"po_lines": [{"line": 1, "qty": 2}]}', "match.json", "application/json")
    item = Item(
        bot="toy",
        key="json-1",
        payload={"order_id": "O-1", "customer": "C1", "amount": "100.00"},
        source=SourceRef(file="orders.csv", locator="row 2"),
        evidence=[ev],
        violations=[Violation_()],
    )
    (item_id,) = queue_items(bo_store, [item], ruleset=RULES)
    c = make_client(bo_store)
    login(c, "associate")
    html = c.get(f"/items/{item_id}").text
    assert 'data-table="po_lines"' in html and f'href="/evidence/{ev.sha256}"' not in html  # shown masked
    assert c.get(f"/evidence/{ev.sha256}").status_code == 403


def test_a_correction_takes_many_fields_in_one_submit(bo_store, bo_users, tmp_path):
    item, _ = _item(bo_store, tmp_path)
    c = make_client(bo_store)
    token = login(c, "associate")
    post(c, f"/items/{item}/claim", token)
    html = c.get(f"/items/{item}").text
    assert 'class="broken-field" data-field="amount"' in html and 'data-field="customer"' in html
    r = post(
        c,
        f"/items/{item}/correct",
        csrf_of(html),
        **{"set:amount": "99.00", "set:customer": "C2", "set:order_id": "O-1"},
        more="note=checked with the customer\n\n",
        reason="typo",
    )
    assert r.status_code == 303, r.text
    it = Queue(bo_store).get(item)
    assert it.row["changes"] == {"amount": "99.00", "customer": "C2", "note": "checked with the customer"}
    assert it.row["payload"]["customer"] == "C2"


def test_a_malformed_further_field_line_is_refused_with_its_line(bo_store, bo_users, tmp_path):
    item, _ = _item(bo_store, tmp_path)
    c = make_client(bo_store)
    token = login(c, "associate")
    post(c, f"/items/{item}/claim", token)
    r = post(c, f"/items/{item}/correct", token, more="amount 12", reason="typo")
    assert r.status_code == 400 and "line 1 of the further fields" in r.text


def test_the_approver_reason_says_which_and_the_limit(bo_store, bo_users, tmp_path):
    from decimal import Decimal

    ev_item = Item(
        bot="toy",
        key="big-1",
        payload={"order_id": "O-9", "customer": "C9", "amount": "90000.00"},
        source=SourceRef(file="orders.csv", locator="row 9"),
        amount=Decimal("90000.00"),
        currency="EUR",
        violations=[Violation_()],
    )
    (item,) = queue_items(bo_store, [ev_item], ruleset=RULES)
    q = Queue(bo_store)
    q.claim(item, "associate")
    q.resolve(item, "associate", "approve", "fine")
    c = make_client(bo_store)
    login(c, "team_lead")
    html = c.get(f"/items/{item}").text
    limit = bo_store.settings.delegated_limit
    assert "is above the delegated limit of" in html and str(limit) in html
    assert "Waiting for an approver who is not associate" in html
    assert "or an approver-only rule" not in html


def test_images_are_shown_only_when_the_bot_redacted_them_or_in_an_unmask(bo_store, bo_users, tmp_path):
    from tests.inbox.conftest import PNG

    plain = put_evidence(bo_store, PNG, "page-1.png", "image/png")
    masked = put_evidence(bo_store, PNG + b"\0", "screenshot.png", "image/png").model_copy(
        update={"redacted": True}
    )
    item = Item(
        bot="toy",
        key="img-1",
        payload={"order_id": "O-1", "customer": "C1", "amount": "100.00"},
        source=SourceRef(file="orders.csv", locator="row 2"),
        evidence=[plain, masked],
        violations=[Violation_()],
    )
    (item_id,) = queue_items(bo_store, [item], ruleset=RULES)
    c = make_client(bo_store)
    login(c, "associate")
    html = c.get(f"/items/{item_id}").text
    assert f'src="/evidence/{masked.sha256}?item={item_id}"' in html and plain.sha256 not in html
    assert "Image not shown" in html
    # the raw route serves an image without an unmask only through an item that lists it redacted
    assert c.get(f"/evidence/{masked.sha256}?item={item_id}").status_code == 200
    assert c.get(f"/evidence/{plain.sha256}?item={item_id}").status_code == 403
    assert c.get(f"/evidence/{plain.sha256}").status_code == 403
    assert c.get(f"/evidence/{masked.sha256}").status_code == 403  # not through an item: unmask only
    assert c.get(f"/evidence/{masked.sha256}?item=99999999999999999999").status_code == 403
    comp = make_client(bo_store)
    token = login(comp, "compliance")
    clear = post(comp, f"/items/{item_id}/unmask", token, reason="case 4").text
    assert f'src="/evidence/{plain.sha256}?item={item_id}"' in clear
    seen = len([e for e in entries(bo_store) if e["action"] == "pii.unmasked"])
    assert comp.get(f"/evidence/{plain.sha256}?item={item_id}").status_code == 200
    assert len([e for e in entries(bo_store) if e["action"] == "pii.unmasked"]) == seen + 1  # audited
