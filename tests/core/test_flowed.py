"""format=flowed (RFC 3676) is reflowed before the top line is read."""

from __future__ import annotations

from gateway.core.flowed import reflow
from gateway.core.message import read_message
from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary, read_stamps


def flowed(body: str, delsp: bool) -> bytes:
    params = "; format=flowed" + ("; delsp=yes" if delsp else "")
    return (f"Subject: x\r\nContent-Type: text/plain; charset=utf-8{params}\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def test_delsp_joins_a_word_split_by_a_soft_break(vocabulary: Vocabulary) -> None:
    data = flowed("Confi \ndential\nThe case notes follow.\n", delsp=True)
    facts = read_message(data)
    assert facts.top_texts[0].text.split("\n")[0] == "Confidential"
    assert read_stamps(facts, vocabulary).stamp is Stamp.CONFIDENTIAL


def test_without_delsp_the_space_stays() -> None:
    assert reflow("Strictly \nconfidential\nnext", delsp=False) == "Strictly confidential\nnext"
    assert reflow("Strictly \nconfidential\nnext", delsp=True) == "Strictlyconfidential\nnext"


def test_a_stamp_spread_over_soft_breaks_is_one_line(vocabulary: Vocabulary) -> None:
    data = flowed("Cleared \nfor \npublication\nHello\n", delsp=False)
    assert read_stamps(read_message(data), vocabulary).stamp is Stamp.CLEARED


def test_space_stuffing_and_quote_depth() -> None:
    text = " From the start\n>> quoted \n>> line\n> other\n-- \nsig"
    assert reflow(text, delsp=False) == "From the start\n>> quoted line\n> other\n-- \nsig"


def test_a_change_of_quote_depth_ends_the_paragraph(vocabulary: Vocabulary) -> None:
    data = flowed("> Internal \nHello\n", delsp=False)
    assert read_message(data).top_texts[0].text.split("\n")[:2] == ["> Internal ", "Hello"]


def typed(content_type: str, body: str, encoding: str = "8bit") -> bytes:
    return (f"Subject: Cleared for publication\r\nContent-Type: {content_type}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def test_a_parameter_given_twice_is_read_each_way(vocabulary: Vocabulary) -> None:
    # Clients differ in the value they take: both readings, the stricter stamp wins.
    body = "Confi \ndential\nThe case notes follow.\n"
    for ctype in ("text/plain; charset=utf-8; format=flowed; delsp=yes; delsp=no",
                  "text/plain; charset=utf-8; format=flowed; delsp=no; delsp=yes",
                  "text/plain; format=fixed; delsp=yes; format=flowed"):
        assert read_stamps(read_message(typed(ctype, body)), vocabulary).stamp is (
            Stamp.CONFIDENTIAL), ctype


def test_a_comment_after_a_parameter_value_is_no_part_of_it(vocabulary: Vocabulary) -> None:
    body = "Int \nernal\nThe case notes follow.\n"
    for ctype in ('text/plain; format=flowed (RFC 3676); delsp=yes',
                  'text/plain; format="flowed"; delsp=yes (RFC 3676)'):
        assert read_stamps(read_message(typed(ctype, body)), vocabulary).stamp is (
            Stamp.INTERNAL), ctype


def test_quoted_printable_trailing_space_kept_as_thunderbird_keeps_it(
        vocabulary: Vocabulary) -> None:
    # RFC 2045 has a decoder strip it; Thunderbird does not, and the line is then soft.
    data = typed("text/plain; charset=utf-8; format=flowed", "Strictly \nconfidential\n\nHi\n",
                 "quoted-printable")
    assert read_stamps(read_message(data), vocabulary).stamp is Stamp.CONFIDENTIAL
    encoded = typed("text/plain; charset=utf-8; format=flowed",
                    "Cleared for publication=20\n\nThe story.\n", "quoted-printable")
    assert read_stamps(read_message(encoded), vocabulary).stamp is Stamp.CLEARED
