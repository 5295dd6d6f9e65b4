"""The facts read from one message: what the stamp reader and the decision consume."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.documents import Document
from gateway.core.labels import Label
from gateway.core.model import Location


@dataclass(frozen=True, slots=True)
class TextPart:
    """One readable top-text candidate of a message.

    ``shown``: a whole rendering some client shows from the message's top (the visible text
    of a part, the parts of a mixed message joined). The other candidates (hidden text, one
    part of several alone) only ever add stricter stamps: a *Cleared* stamp read in the body
    counts only where every shown rendering has a stamp at its top (``stamps.py``).
    """

    location: Location
    text: str
    shown: bool = True


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the stamp reader and the decision need to know about one message."""

    subject: str = ""
    # Further Subject fields: clients differ in the one they show, so each is read.
    other_subjects: tuple[str, ...] = ()
    x_stamps: tuple[str, ...] = ()
    # Fields Outlook shows above or beside the message (Sensitivity and X-Message-Flag in
    # its info bar, Thread-Topic over a conversation): for stricter stamps only.
    flags: tuple[str, ...] = ()
    from_addresses: tuple[str, ...] = ()
    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    top_texts: tuple[TextPart, ...] = ()
    attached: tuple[MessageFacts, ...] = ()
    # Attached documents (Office, OpenDocument, PDF, RTF, text, what .zip files hold).
    documents: tuple[Document, ...] = ()
    # Sensitivity labels of the message itself (the msip_labels header).
    labels: tuple[Label, ...] = ()
    # Labels of the label headers the gateway writes for partners (X-Protective-Marking,
    # SIO-Label, X-TLP): on the message itself they only ever restrict.
    label_headers: tuple[Label, ...] = ()
    # The file name an attached message or text came under, for reasons that name it.
    name: str = ""
    unreadable: tuple[str, ...] = field(default=())
    # Attached documents the first pass did not read (``read_message(defer_documents=True)``),
    # in this message and the messages attached to it: empty once it is read in full.
    unread: tuple[str, ...] = ()
    # The reader itself failed on it (a bug, not the sender's encryption): nothing of it can
    # vouch that no stricter stamp is there, so no Cleared of it counts.
    failed: bool = False
    # Oddities a client reads past (a base64 garbage tail): recorded, not held against it.
    defects: tuple[str, ...] = ()
    # Where the header block ends (the offset of the empty line), as headers.py reads it.
    header_end: int = 0
    # Why that end is ambiguous (the SMTP edge refuses such a message), or None.
    ambiguous_headers: str | None = None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Every Message-ID this message refers to, nearest parent first."""
        seen: dict[str, None] = dict.fromkeys(self.in_reply_to)
        seen.update(dict.fromkeys(reversed(self.references)))
        return tuple(seen)
