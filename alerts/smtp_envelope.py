"""An email as the outbox keeps it, ready for SMTP without parsing it into a message and writing it out again.

In: the text of a stored email (``EmailMessage.as_string()`` of what the alert stage composed). Out:
:func:`stored_envelope` — the envelope sender, the recipients and the bytes that ``smtplib``'s
``send_message`` would transmit for that email once parsed back (the same headers, each written as it is
stored, CRLF line ends) — or None when only the full parse can say what those are.

Parsing a stored email with the default policy and writing it out again costs more than composing it;
for the text the composer writes, the result is the text itself with CRLF line ends: a header is written
back as stored unless one of its lines is longer than the policy's limit (78), and the bodies are ASCII
(base64 or quoted-printable where the text is not). So the text is sent as it is when it is ASCII, every
header line is within the limit, and nothing is to be hidden (``Bcc``) or re-sent (``Resent-``); any other
email goes through the full parse, as before. ``tests/test_mailer.py`` compares the bytes of both ways.
"""

from __future__ import annotations

import email.policy
from email.parser import HeaderParser
from email.utils import getaddresses

MAX_LINE = email.policy.default.max_line_length or 78  # the header lines the default policy writes back as they are
FULL_PARSE = ("bcc", "resent-date", "resent-bcc")  # headers send_message treats specially
WIRE = email.policy.default.clone(linesep="\r\n")  # the policy send_message writes a parsed email with


def stored_envelope(text: str) -> tuple[str, list[str], bytes] | None:
    """(sender, recipients, bytes to transmit) of a stored email, or None (see the module doc)."""
    if not text.isascii() or "\r" in text:
        return None
    head, blank, body = text.partition("\n\n")
    if not blank:
        return None
    headers = HeaderParser(policy=email.policy.default).parsestr(head + "\n\n", headersonly=True)
    if any(name.lower() in FULL_PARSE for name in headers) or not _verbatim_parts(body, headers.get_boundary()):
        return None
    sender = headers["Sender"] if "Sender" in headers else headers["From"]
    if sender is None:
        return None
    fields = [str(f) for f in (headers["To"], headers["Cc"]) if f is not None]
    # the email's own headers written as the generator writes them (most as they are, a long one folded again)
    written = "".join(WIRE.fold(name, value) for name, value in headers.raw_items()) + "\r\n"
    return getaddresses([str(sender)])[0][1], [a[1] for a in getaddresses(fields)], \
        (written + body.replace("\n", "\r\n")).encode("ascii")


def _verbatim_parts(body: str, boundary: str | None) -> bool:
    """Whether the generator writes ``body`` back as it is: the headers of its parts (one level of them, under
    ``boundary``) are all short ``Name: value`` lines, and no part is itself made of parts."""
    if boundary is None:
        return True
    start, in_headers = f"--{boundary}", False
    for line in body.split("\n"):
        if line == start:
            in_headers = True
        elif in_headers and not line:
            in_headers = False
        elif in_headers and (len(line) > MAX_LINE or "boundary=" in line
                             or (not line.startswith((" ", "\t")) and ": " not in line)):
            return False
    return True
