"""The labelled register corpus, generated deterministically: mail that must be held and
mail that must not, for the clients of ``register_clients``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from tests.core.mail import alternative, html, plain

COMMS = "press@example.org"
OUTSIDE = "journalist@news.test"
COLLEAGUE = "alice@example.org"


@dataclass(frozen=True)
class Sample:
    label: str
    message: bytes
    recipient: str
    held: bool  # must the register hold it for ``recipient``?


# Real names as they are really written: (client, spelling).
NAME_SPELLINGS = (
    ("John", "Amina Haddad"), ("John", "amina haddad"), ("John", "AMINA HADDAD"),
    ("John", "Haddad Amina"), ("John", "Haddad, Amina"), ("John", "A. Haddad"),
    ("John", "A Haddad"), ("John", "Amina Haddad's"), ("John", "Amina Haddad’s"),
    ("John", "Amina\nHaddad"), ("John", "Ami\u200bna Had\u200cdad"), ("John", "Аmina Hаddad"),
    ("John", "Umm Yusuf"), ("John", "Um Yousef"), ("John", "Amina  Hadad"),
    ("Sara", "محمد حداد"), ("Sara", "Mohammed Haddad"), ("Sara", "Muhammad Haddad"),
    ("Sara", "Mohamed Hadad"), ("Sara", "Mohammad Al Haddad"), ("Sara", "Мухаммед Хаддад"),
    ("Sara", "Haddad Mohammed"), ("Sara", "Muhammed Haddad's"),
    ("Lena", "Олена Коваленко"), ("Lena", "Olena Kovalenko"), ("Lena", "Elena Kovalenko"),
    ("Lena", "Kovalenko Olena"), ("Lena", "O. Kovalenko"), ("Lena", "OLENA KOVALENKO"),
    ("Kidane", "ተስፋይ ገብረሚካኤል"), ("Kidane", "Tesfay Gebremichael"),
    ("Kidane", "Tesfai Gebremikael"), ("Kidane", "T. Gebremichael"),
    ("Kidane", "Gebremichael Tesfay"),
    ("Parisa", "زهرا کریمی"), ("Parisa", "Zahra Karimi"), ("Parisa", "Zahra Kareemi"),
    ("Parisa", "Karimi, Zahra"), ("Parisa", "Z. Karimi"),
    ("Emre", "Şahin Yıldız"), ("Emre", "Sahin Yildiz"), ("Emre", "Yildiz Sahin"),
    ("Emre", "S. Yıldız"), ("Emre", "ŞAHİN YILDIZ"),
)
NAME_TEMPLATES = (
    "Cleared for publication\n\nWe met {x} at the centre last week.\n",
    "Cleared for publication\n\nThe story of {x}, as told to our caseworker.\n",
)
# A withheld fact next to the client's pseudonym (or name).
FACT_MENTIONS = (
    "John grew up in Kobani.", "John worked as a pharmacist.", "John left Syria in 2015.",
    "John spent two years in Sednaya prison.", "JOHN, from KOBANI, arrived in May.",
    "Sara drove a tram: she was a tram driver.", "Sara fled Bakhmut.",
    "Lena's flat in Mariupol was shelled.", "Kidane was a goldsmith.",
    "Kidane comes from Adi Keyh.", "Parisa played in the women's football team.",
    "Parisa was born in Mashhad.", "Parisa left Iran alone.", "Emre was the imam.",
    "Emre's family still lives in Cizre.", "Amina Haddad grew up in Kobani.",
)
FACT_TEMPLATES = (
    "Cleared for publication\n\n{x}\n",
    "Cleared for publication\n\nA short update. {x} More next week.\n",
)
# The pseudonym of a client shown only once resettled (John, Kidane), going outside.
WAITING = ("John told us his story.", "A photo essay about Kidane.", "Kidane's new life.")

BENIGN_TEXTS = (
    # Other people with similar names.
    "Amina Hassan joined the board.", "Amir Haddad will present.", "Samir Haddad called.",
    "Mohammed Hassan sends regards.", "Elena Petrova is our new volunteer.",
    "Olga Kovalenko-Smith wrote a book.", "Zahra Ahmadi is on leave.",
    "Tesfaye Bekele ran the marathon.", "Sahin Demir fixed the printer.",
    "Yusuf Islam sang at the gala.", "Aminata Diallo will translate.",
    "Hadi Karimov visited.", "Dr. Amina Okafor spoke.", "Ahmed Haddadi wrote.",
    # Place names and jobs used generically, without a client.
    "Flights to Mariupol were cancelled.", "Kobani is in the news again.",
    "Our pharmacist volunteers on Fridays.", "The imam of the local mosque visited.",
    "Prices in Mashhad went up.", "Reports from Syria and Iran.",
    "The goldsmith quarter is closed.", "Trams in Bakhmut no longer run.",
    "A conference in Cizre.", "The women's football team won.",
    # Common words and everyday mail.
    "Please find the minutes attached.", "The meeting is at 10:00 in room 3.",
    "Happy new year to all our volunteers!", "The printer on floor 2 is broken.",
    "Sara Lidman's novels are on the reading list.", "Ask Dr. Lena Meyer.",
    "Our annual report is out.", "Thanks for your help with the fundraiser.",
)
BENIGN_TEMPLATES = (
    "Cleared for publication\n\n{x}\n",
    "Cleared for publication\n\nHello all,\n\n{x}\n\nBest,\nBob\n",
    "{x}\n",
    "Needs adjustment: change name\n\n{x}\n",
    "Cleared for publication\n\nNews roundup: {x} That is all.\n",
)
# The pseudonym alone, or with facts, inside the organisation; resettled clients' pseudonyms.
INSIDE = (
    "John grew up in Kobani.", "Amina Haddad's appointment is on Monday.",
    "Kidane was a goldsmith.", "Mohammed Haddad called the office.",
    "Parisa was born in Mashhad.", "Emre's family still lives in Cizre.",
)
PSEUDONYM_ALONE = (
    "John's story is ready.", "Sara is doing well.", "A photo essay about Kidane.",
    "Lena wrote to thank us.", "Parisa's interview.", "Emre's speech.",
)


def _html_message(name: str) -> bytes:
    first, _, last = name.partition(" ")
    return html(f"<p>Cleared for publication</p><p>Meet <b>{first}</b>\n<i>{last}</i>.</p>")


def _attached(text: str) -> bytes:
    inner = EmailMessage()
    inner["Subject"] = "notes"
    inner.set_content(text)
    outer = EmailMessage()
    outer["Subject"] = "Fwd: notes"
    outer.set_content("Cleared for publication\n\nSee the attached notes.\n")
    outer.add_attachment(inner)
    return outer.as_bytes(policy=SMTP)


def must_hit() -> list[Sample]:
    samples: list[Sample] = []
    recipients = itertools.cycle((COMMS, OUTSIDE))
    for (client, spelling), template in itertools.product(NAME_SPELLINGS, NAME_TEMPLATES):
        samples.append(Sample(f"name of {client}: {spelling!r}",
                              plain(template.format(x=spelling)), next(recipients), True))
    for client, spelling in NAME_SPELLINGS[:12]:
        samples.append(Sample(f"name of {client} in the subject: {spelling!r}",
                              plain("Cleared for publication\n\nsee subject\n",
                                    subject=f"About {spelling.splitlines()[0]} "
                                            f"{' '.join(spelling.splitlines()[1:])}"),
                              OUTSIDE, True))
    for name in ("Amina Haddad", "Mohammed Haddad", "Olena Kovalenko", "Zahra Karimi",
                 "Sahin Yildiz", "Tesfay Gebremichael"):
        samples.append(Sample(f"name in HTML: {name}", _html_message(name), COMMS, True))
        samples.append(Sample(f"name in an attached message: {name}",
                              _attached(f"Notes on {name}."), OUTSIDE, True))
        samples.append(Sample(f"name in both alternatives: {name}",
                              alternative(f"Cleared for publication\n\n{name}\n",
                                          f"<p>Cleared for publication</p><p>{name}</p>"),
                              COMMS, True))
    for fact, template in itertools.product(FACT_MENTIONS, FACT_TEMPLATES):
        samples.append(Sample(f"fact: {fact!r}", plain(template.format(x=fact)),
                              next(recipients), True))
    for text in WAITING:
        samples.append(Sample(f"not resettled, outside: {text!r}",
                              plain(f"Cleared for publication\n\n{text}\n"), OUTSIDE, True))
    return samples


def benign() -> list[Sample]:
    samples: list[Sample] = []
    recipients = itertools.cycle((COMMS, OUTSIDE))
    for text, template in itertools.product(BENIGN_TEXTS, BENIGN_TEMPLATES):
        samples.append(Sample(f"benign: {text!r}", plain(template.format(x=text)),
                              next(recipients), False))
    for text in INSIDE:
        samples.append(Sample(f"inside the organisation: {text!r}",
                              plain(f"Cleared for publication\n\n{text}\n"), COLLEAGUE, False))
    for text in PSEUDONYM_ALONE:
        samples.append(Sample(f"pseudonym alone to communications: {text!r}",
                              plain(f"Cleared for publication\n\n{text}\n"), COMMS, False))
    for text in ("Sara is doing well.", "Lena wrote to thank us.", "Parisa's interview."):
        samples.append(Sample(f"resettled or unrestricted pseudonym outside: {text!r}",
                              plain(f"Cleared for publication\n\n{text}\n"), OUTSIDE, False))
    return samples
