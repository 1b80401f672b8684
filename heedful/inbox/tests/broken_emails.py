"""A corpus of broken emails, made here rather than stored: each one a way real mail goes wrong."""

from __future__ import annotations

BIG = 20 * 1024 * 1024


def _simple(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("utf-8") + b"\r\n" + body


def wrong_charset() -> bytes:
    # Declared utf-8, actually latin-1.
    return _simple(
        "From: Jörg <joerg@example.com>\nTo: shop@example.com\nSubject: Falsches Zeichen\n"
        "Message-ID: <wrong-charset@example.com>\nDate: Tue, 24 Nov 2026 10:00:00 +0100\n"
        'Content-Type: text/plain; charset="utf-8"\n',
        "Grüße aus Köln, wo ist meine Bestellung?".encode("latin-1"),
    )


def unknown_charset() -> bytes:
    return _simple(
        "From: x@example.com\nSubject: charset\nMessage-ID: <unknown-charset@example.com>\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\nContent-Type: text/plain; charset=x-klingon\n",
        b"Qapla' caf\xe9",
    )


def missing_charset() -> bytes:
    return _simple(
        "From: y@example.com\nSubject: no charset\nMessage-ID: <missing-charset@example.com>\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\nContent-Type: text/plain\n",
        "Ça coûte combien ?".encode("cp1252"),
    )


def missing_headers() -> bytes:
    return b"\r\nJust a body, no headers at all.\r\n"


def invalid_date() -> bytes:
    return _simple(
        "From: z@example.com\nSubject: when\nMessage-ID: <invalid-date@example.com>\n"
        "Date: Blursday, 45 Smarch 20266 99:99:99 +9999\n",
        b"Date is nonsense.",
    )


def huge_attachment() -> bytes:
    import base64

    payload = base64.encodebytes(b"\0" * BIG)
    return (
        b"From: big@example.com\r\nSubject: big file\r\nMessage-ID: <huge@example.com>\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached scan.\r\n"
        b"--B\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="scan.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"--B--\r\n"
    )


def deeply_nested(depth: int = 60) -> bytes:
    opening = b""
    closing = b""
    for level in range(depth):
        boundary = f"L{level}".encode()
        opening += (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary + b"\r\n"
        )
        closing = b"\r\n--" + boundary + b"--\r\n" + closing
    leaf = b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the bottom."
    return (
        b"From: deep@example.com\r\nSubject: nested\r\nMessage-ID: <nested@example.com>\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" + opening + leaf + closing
    )


def html_only() -> bytes:
    return _simple(
        "From: html@example.com\nSubject: html\nMessage-ID: <html-only@example.com>\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\nContent-Type: text/html; charset=utf-8\n",
        b"<html><head><style>p{}</style><script>alert(1)</script></head>"
        b"<body><p>Hello&nbsp;there,</p><p>where is <b>my</b> order?</p></body></html>",
    )


def nul_bytes() -> bytes:
    # UTF-16 text sent as if it were ASCII: a NUL after every letter, in the name and the body.
    # PostgreSQL refuses NUL in text, so the message was lost there (SQLite kept it).
    return _simple(
        "From: =?utf-8?q?N=00ul?= <nul@example.com>\nSubject: nul\nMessage-ID: <nul-bytes@example.com>\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\nContent-Type: text/plain; charset=us-ascii\n",
        "where is my order?".encode("utf-16-le"),
    )


CORPUS = {
    "wrong charset": wrong_charset,
    "unknown charset": unknown_charset,
    "missing charset": missing_charset,
    "missing headers": missing_headers,
    "invalid date": invalid_date,
    "20 MB attachment": huge_attachment,
    "deeply nested multiparts": deeply_nested,
    "html only": html_only,
    "NUL bytes": nul_bytes,
}
