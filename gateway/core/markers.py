"""Lines that open embedded content in a body: quote markers, attributions, forward headers.

Every function here takes lines already folded by ``normalise_text`` (case, confusables,
spaces), so the tables below are folded the same way once, at import.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from gateway.core.text import normalise_phrase

# A marker or attribution longer than this is prose, not a line a mail client wrote.
MAX_MARKER_LENGTH = 300
# Gmail and others wrap a long attribution ("On ..., Name <address> wrote:") over lines.
MAX_ATTRIBUTION_LINES = 3
# How far a "From:" line may be from the next header line for the two to be a header block.
HEADER_LOOKAHEAD = 3

_DECORATION = "-_=*~ \t"


def _fold(phrases: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise_phrase(p) for p in phrases)


# "---------- Forwarded message ---------" and its relatives, decoration stripped.
_FORWARD_MARKERS = _fold([
    # English: Gmail, Outlook, Thunderbird, Apple Mail
    "Forwarded message", "Original message", "Forwarded email", "Begin forwarded message",
    "Message forwarded", "Forwarded by",
    # French
    "Message transféré", "Message d'origine", "Message original", "Début du message réexpédié",
    "Message réexpédié", "Courriel transféré",
    # Spanish
    "Mensaje reenviado", "Mensaje original", "Inicio del mensaje reenviado", "Correo reenviado",
    # German
    "Weitergeleitete Nachricht", "Ursprüngliche Nachricht", "Originalnachricht",
    "Anfang der weitergeleiteten Nachricht", "Weitergeleitete E-Mail",
    # Portuguese, Italian, Dutch
    "Mensagem encaminhada", "Mensagem original", "Messaggio inoltrato", "Messaggio originale",
    "Doorgestuurd bericht", "Oorspronkelijk bericht", "Origineel bericht",
    # Arabic
    "رسالة معاد توجيهها", "الرسالة المعاد توجيهها", "رسالة محولة", "الرسالة الأصلية",
    "رسالة أصلية",
    # Russian, Ukrainian
    "Исходное сообщение", "Пересылаемое сообщение", "Пересланное сообщение",
    "Переадресованное сообщение", "Начало переадресованного сообщения",
    "Оригінальне повідомлення", "Переслане повідомлення", "Пересланий лист",
    # Turkish
    "Orijinal ileti", "Orijinal mesaj", "Özgün ileti", "İletilen ileti", "İletilmiş ileti",
    "İletilen mesaj", "Yönlendirilen mesaj", "Yönlendirilmiş mesaj", "Yönlendirilen ileti",
    # Persian
    "پیام اصلی", "پیام ارسال شده", "پیام بازارسال شده", "پیام هدایت شده", "پیام فوروارد شده",
    # Swedish, Danish, Norwegian, Finnish
    "Ursprungligt meddelande", "Vidarebefordrat meddelande", "Oprindelig meddelelse",
    "Videresendt meddelelse", "Opprinnelig melding", "Videresendt melding",
    "Alkuperäinen viesti", "Välitetty viesti",
    # Polish, Czech, Hungarian, Romanian, Greek
    "Wiadomość oryginalna", "Oryginalna wiadomość", "Przekazana wiadomość",
    "Wiadomość przekazana dalej", "Původní zpráva", "Přeposlaná zpráva", "Eredeti üzenet",
    "Továbbított üzenet", "Mesaj original", "Mesaj redirecționat", "Αρχικό μήνυμα",
    "Προωθημένο μήνυμα",
    # Chinese, Japanese, Korean, Hebrew
    "原始邮件", "转发的邮件", "原始郵件", "轉寄的郵件", "元のメッセージ", "転送されたメッセージ",
    "원본 메시지", "전달된 메시지", "הודעה מקורית", "הודעה שהועברה",
])


class HeaderKind(enum.Enum):
    """The header lines of an inline forward that matter to the stamp reader."""

    FROM = "from"
    SUBJECT = "subject"
    OTHER = "other"


_HEADER_NAMES: dict[str, HeaderKind] = {}
for _kind, _names in (
    (HeaderKind.FROM, ["From", "De", "Von", "Da", "Van", "Remitente", "Expéditeur", "من",
                       "المرسل", "От", "Від", "Kimden", "Gönderen", "از", "فرستنده", "Från",
                       "Od", "Fra", "Lähettäjä", "Feladó", "Από", "De la", "发件人", "寄件者",
                       "差出人", "보낸 사람", "מאת"]),
    (HeaderKind.SUBJECT, ["Subject", "Objet", "Sujet", "Asunto", "Betreff", "Oggetto", "Assunto",
                          "Onderwerp", "الموضوع", "Тема", "Konu", "موضوع", "Ämne", "Temat",
                          "Emne", "Aihe", "Předmět", "Tárgy", "Subiect", "Θέμα", "主题",
                          "主旨", "件名", "제목", "נושא"]),
    (HeaderKind.OTHER, ["Sent", "Date", "To", "Cc", "Bcc", "Reply-To", "Importance",
                        "Envoyé", "Envoyé le", "À", "A", "Cci", "Répondre à", "Enviado",
                        "Enviado el", "Fecha", "Para", "CCO", "Responder a", "Gesendet", "Datum",
                        "An", "Antwort an", "Enviada em", "Enviado em", "Data", "Inviato",
                        "Aan", "Verzonden", "التاريخ", "تاريخ", "إلى", "الى", "نسخة",
                        "تم الإرسال", "أرسلت", "نسخة إلى", "Отправлено", "Дата", "Кому",
                        "Копия", "Надіслано", "Копія", "Tarih", "Gönderildi", "Gönderim",
                        "Kime", "Bilgi", "Alıcı", "ارسال شد", "تاریخ", "به", "رونوشت",
                        "Skickat", "Till", "Kopia", "Wysłano", "Do", "DW", "Sendt", "Til",
                        "Lähetetty", "Vastaanottaja", "Odesláno", "Komu", "Elküldve",
                        "Címzett", "Trimis", "Către", "Στάλθηκε", "Προς", "发送时间",
                        "收件人", "抄送", "日期", "寄件日期", "收件者", "送信日時", "宛先",
                        "보낸 날짜", "받는 사람", "נשלח", "אל"]),
):
    for _name in _names:
        _HEADER_NAMES[normalise_phrase(_name)] = _kind

# Attribution lines end with the verb ("On <date>, <name> wrote:") or carry it in the middle
# ("Am <date> schrieb <name>:").
_WROTE_ENDINGS = tuple(sorted(_fold([
    "wrote:", "writes:", "a écrit:", "escribió:", "schrieb:", "escreveu:", "ha scritto:",
    "schreef:", "skrev:", "kirjoitti:", "napisał:", "napisal:", "napisał(a):", "كتب:",
    "написал:", "написала:", "написал(а):", "пишет:", "написав:", "написала(в):",
    "yazdı:", "نوشت:", "napsal:", "napsala:", "írta:", "a scris:", "έγραψε:", "写道:",
    "寫道:", "のメッセージ:", "書きました:", "작성:", "כתב:",
]), key=len, reverse=True))
_WROTE_INSIDE = tuple(f" {w} " for w in sorted(_fold(["schrieb", "schreef", "كتب", "wrote"])))
_ATTRIBUTION_OPENERS = tuple(f"{w} " for w in sorted(_fold(
    ["On", "Le", "El", "Am", "Em", "Il", "Op", "في", "بتاريخ"]
)))


def quote_level(line: str) -> tuple[int, str]:
    """How many ``>`` quote markers open a folded line, and the line without them.

    ``>> CONFIDENTIAL <<`` is decoration around a stamp, not a quote.
    """
    if not line.startswith(">"):
        return 0, line
    level = 0
    index = 0
    length = len(line)
    while index < length and line[index] == ">":
        level += 1
        index += 1
        while index < length and line[index] == " ":
            index += 1
    if line.endswith("<") and index < length:
        return 0, line
    return level, line[index:]


def is_forward_marker(line: str) -> bool:
    """``-----Original Message-----``, ``Begin forwarded message:`` and the like."""
    if len(line) > MAX_MARKER_LENGTH:
        return False
    core = line.strip(_DECORATION).rstrip(":").rstrip(_DECORATION)
    return core in _FORWARD_MARKERS


def header_line(line: str) -> tuple[HeaderKind, str] | None:
    """``From: ...``, ``Objet : ...``: a header line of an inline forward, and its value."""
    name, colon, value = line.partition(":")
    if not colon or len(name) > 30:
        return None
    kind = _HEADER_NAMES.get(name.strip(" *"))
    if kind is None:
        return None
    return kind, value.strip(" *")


def opens_header_block(line: str) -> bool:
    """A ``From:`` line (in any of the languages above)."""
    found = header_line(line)
    return found is not None and found[0] is HeaderKind.FROM


def starts_header_block(contents: Sequence[str]) -> bool:
    """A ``From:`` line soon followed by another header line (an Outlook reply header)."""
    first = header_line(contents[0]) if contents else None
    if first is None or first[0] is not HeaderKind.FROM:
        return False
    return any(header_line(c) is not None for c in contents[1:1 + HEADER_LOOKAHEAD])


def _is_attribution(text: str) -> bool:
    if len(text) > MAX_MARKER_LENGTH or not text.endswith(":"):
        return False
    compact = text.replace(" :", ":")
    if compact.endswith(_WROTE_ENDINGS):
        return True
    return any(verb in compact for verb in _WROTE_INSIDE)


def may_be_attribution(line: str) -> bool:
    """A cheap test before ``attribution_length``: the line ends or starts like one."""
    return line.endswith(":") or line.startswith(_ATTRIBUTION_OPENERS)


def ordinary(line: str) -> bool:
    """A line that opens nothing: not a forward marker, not a ``From:`` line, not the start
    of an attribution. The same as all three tests false, in one call (the stamp reader asks
    it of every line of every body)."""
    if ":" in line or line.startswith(_ATTRIBUTION_OPENERS):
        return False
    # Without a colon a forward marker is its line with the decoration stripped.
    return len(line) > MAX_MARKER_LENGTH or line.strip(_DECORATION) not in _FORWARD_MARKERS


def attribution_length(contents: Sequence[str]) -> int:
    """How many of the first lines form an attribution (``On ... wrote:``); 0 if none."""
    if not contents or not contents[0]:
        return 0
    text = contents[0]
    if _is_attribution(text):
        return 1
    if not text.startswith(_ATTRIBUTION_OPENERS):
        return 0
    for count in range(2, MAX_ATTRIBUTION_LINES + 1):
        if count > len(contents) or not contents[count - 1]:
            return 0
        text = f"{text} {contents[count - 1]}"
        if _is_attribution(text):
            return count
    return 0
