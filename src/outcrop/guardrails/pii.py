"""PII recognizers for the sensitive-information policy: patterns plus the checks that make them
precise (Luhn, IBAN mod-97, ABA, NHS mod-11, SIN, VIN and マイナンバー check digits,
libphonenumber's validity rules), in Japanese and English text.

Formats that only mean PII next to a keyword (a bare 4-digit PIN, a password) need that keyword
before them ("PIN: 1234", "パスワードは hunter2"); only the value is reported and masked. NAME has
no pattern: a named-entity model finds it (names.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers
import regex
from stdnum import bic, iban, luhn
from stdnum.ca import sin as ca_sin
from stdnum.gb import nhs, utr
from stdnum.jp import in_ as my_number
from stdnum.us import itin, rtn, ssn


@dataclass(frozen=True)
class Entity:
    type: str
    start: int
    end: int
    text: str


class Recognizer:
    """One PII format: `find(text)` yields (start, end) spans of values of `entity_type`."""

    entity_type: str
    priority: int = 1  # between two spans of one start and length, the lower priority wins

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        raise NotImplementedError


class Pattern(Recognizer):
    """A regex (its group `v`, or the whole match) with an optional validator of the matched text."""

    def __init__(self, entity_type: str, pattern: str, valid: Callable[[str], bool] | None = None, flags: int = 0) -> None:
        self.entity_type = entity_type
        self.regex = regex.compile(pattern, flags | regex.VERSION1)
        self.valid = valid

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        for match in self.regex.finditer(text):
            start, end = match.span("v") if "v" in self.regex.groupindex else (-1, -1)
            if start < 0:  # no keyword-introduced value in this alternative: the whole match is the value
                start, end = match.span()
            if end > start and (self.valid is None or self.valid(text[start:end])):
                yield start, end


class Phone(Recognizer):
    """Phone numbers by libphonenumber: JP national forms (03-1234-5678, 090…), +CC international
    forms and North American numbers, each checked against the numbering plan."""

    entity_type = "PHONE"
    priority = 2  # a checksummed number (NHS, SIN) of the same digits is the better reading

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        seen: set[tuple[int, int]] = set()
        for region in ("JP", "US"):
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                span = (match.start, match.end)
                if span not in seen and not any(s <= span[0] < e for s, e in seen):
                    seen.add(span)
                    yield span


class Names(Recognizer):
    """People's names by named-entity recognition (names.py); a pattern's reading of the same span wins."""

    entity_type = "NAME"
    priority = 3

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        from outcrop.guardrails.names import person_spans

        return person_spans(text)


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _card(value: str) -> bool:
    digits = _digits(value)
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits)


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _vin(value: str) -> bool:
    values = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))),
              "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    total = sum(values[c] * w for c, w in zip(value, weights))
    check = "X" if total % 11 == 10 else str(total % 11)
    return value[8] == check and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _secret(value: str) -> bool:
    return (any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value))


def _my_number(value: str) -> bool:
    return my_number.is_valid(_digits(value))


# The value after a keyword: `KEY` then up to a few separator characters (":", "=", "は", "is").
def _after(keys: str, value: str) -> str:
    return rf"(?<![A-Za-z])(?i:{keys})(?:\s*(?:[:：=]|is|は|：)\s*|\s+)(?P<v>{value})"


# Value edges in ASCII terms: Japanese text runs straight into a number ("番号は4111…です"), and
# Unicode \w or \b would count its characters as part of the value's word.
_B = r"(?<![0-9A-Za-z.-])"
_E = r"(?![0-9A-Za-z-])"
_LB = r"(?<![0-9A-Za-z])"
_LE = r"(?![0-9A-Za-z])"
_PREFECTURES = ("北海道|東京都|京都府|大阪府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|神奈川|新潟|富山|石川|福井|山梨|長野|"
                "岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡|佐賀|長崎|熊本|大分|宮崎|"
                "鹿児島|沖縄)県")

RECOGNIZERS: tuple[Recognizer, ...] = (
    Phone(),
    Names(),
    Pattern("URL", r"(?i)(?<![0-9A-Za-z])(?:https?://|www\.)[^\s<>\"'、。「」]+[^\s<>\"'、。「」.,;:!?)]"),
    Pattern("EMAIL", r"(?i)(?<![0-9a-z._%+-])[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![0-9a-z-])"),
    Pattern("AWS_ACCESS_KEY", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])"),
    Pattern("AWS_SECRET_KEY", r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", _secret),
    Pattern("CREDIT_DEBIT_CARD_NUMBER", _B + r"\d(?:[ -]?\d){12,18}" + _E, _card),
    Pattern("CREDIT_DEBIT_CARD_CVV", _after(r"cvv2?|cvc2?|cid|security code|セキュリティコード", r"\d{3,4}") + _E),
    Pattern("CREDIT_DEBIT_CARD_EXPIRY",
            _after(r"exp(?:iry|iration)?(?: date)?|valid thru|有効期限", r"(?:0[1-9]|1[0-2])\s?/\s?(?:\d{2}|20\d{2})") + _E),
    Pattern("INTERNATIONAL_BANK_ACCOUNT_NUMBER", _LB + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?" + _LE,
            iban.is_valid),
    Pattern("SWIFT_CODE", _after(r"swift(?: code)?|bic|swiftコード", r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9](?:[A-Z0-9]{3})?") + _LE,
            bic.is_valid),
    Pattern("SWIFT_CODE", _LB + r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9][A-Z0-9]{3}" + _LE, lambda v: bic.is_valid(v) and v[8:] != "XXX"),
    Pattern("IP_ADDRESS", r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", _ip),
    Pattern("IP_ADDRESS", r"(?i)(?<![\w:])(?:[0-9a-f]{1,4}:){2,7}(?::|[0-9a-f]{1,4})(?:[0-9a-f:]*)(?![\w:])", _ip),
    Pattern("MAC_ADDRESS", r"(?i)(?<![\w:-])[0-9a-f]{2}(?:([:-])[0-9a-f]{2})(?:\1[0-9a-f]{2}){4}(?![\w:-])"),
    Pattern("US_SOCIAL_SECURITY_NUMBER", _B + r"\d{3}-\d{2}-\d{4}" + _E, lambda v: ssn.is_valid(v) and not itin.is_valid(v)),
    Pattern("US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", _B + r"9\d{2}-?[5-9]\d-?\d{4}" + _E, itin.is_valid),
    Pattern("US_BANK_ROUTING_NUMBER", _after(r"routing(?: number| no\.?)?|aba(?: number)?", r"\d{9}") + _E, rtn.is_valid),
    Pattern("US_BANK_ACCOUNT_NUMBER", _after(r"(?:bank )?account (?:number|no\.?|#)|口座番号", r"\d{6,17}") + _E),
    Pattern("US_PASSPORT_NUMBER", _after(r"passport(?: number| no\.?)?|旅券番号|パスポート番号", r"[A-Z]?\d{8,9}") + _E),
    Pattern("DRIVER_ID", _after(r"driver'?s? licen[cs]e(?: number| no\.?)?|dl(?: number| no\.?)|運転免許証番号|免許証番号",
                                r"[A-Z0-9]{5,15}") + _E),
    Pattern("UK_NATIONAL_INSURANCE_NUMBER",
            _LB + r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _LE),
    Pattern("UK_NATIONAL_HEALTH_SERVICE_NUMBER", _B + r"\d{3}[ -]?\d{3}[ -]?\d{4}" + _E, lambda v: nhs.is_valid(_digits(v))),
    Pattern("UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", _after(r"utr|unique taxpayer reference(?: number)?", r"\d{10}") + _E,
            lambda v: utr.is_valid(v)),
    Pattern("CA_SOCIAL_INSURANCE_NUMBER", _B + r"\d{3}[- ]\d{3}[- ]\d{3}" + _E, lambda v: ca_sin.is_valid(_digits(v))),
    Pattern("CA_HEALTH_NUMBER", _after(r"health (?:card|number)|ohip(?: number)?", r"\d{4}[- ]?\d{3}[- ]?\d{3}(?:[- ]?[A-Z]{2})?")
            + _E),
    Pattern("VEHICLE_IDENTIFICATION_NUMBER", _LB + r"[A-HJ-NPR-Z0-9]{17}" + _LE, _vin),
    Pattern("LICENSE_PLATE", r"[一-龥]{1,4}\s?\d{2,3}\s?[ぁ-ん]\s?(?:\d{1,2}-\d{2}|・\d{1,3})"),
    Pattern("LICENSE_PLATE", _after(r"licen[cs]e plate|plate number|ナンバープレート", r"[A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9]") + _E),
    Pattern("PASSWORD", _after(r"password|passwd|pwd|passcode|パスワード|暗証コード", r"[^\s、。「」]{4,64}")),
    Pattern("PIN", _after(r"pin(?: code| number)?|暗証番号", r"\d{4,6}") + _E),
    # マイナンバー (個人番号): 12 digits whose last one is the check digit; reported as PIN, Bedrock's
    # "personal identification number", since Bedrock has no Japanese entity type.
    Pattern("PIN", _after(r"マイナンバー|個人番号|my ?number", r"\d{4}[ -]?\d{4}[ -]?\d{4}") + _E, _my_number),
    Pattern("PIN", r"(?<![\w.-]|\d[ -])\d{4}[ -]\d{4}[ -]\d{4}(?![\w-]|[ -]\d)", _my_number),
    Pattern("USERNAME", _after(r"user ?name|user ?id|login(?: id)?|ユーザー名|ユーザーID|ログインID", r"[\w.@-]{3,64}")),
    Pattern("AGE", r"(?i)(?<![0-9A-Za-z.])(?P<v>\d{1,3})(?:\s?years?[\s-]old|\s?yo(?![A-Za-z]))|(?<![0-9.])(?P<v>\d{1,3})\s?(?:歳|才)"),
    Pattern("AGE", _after(r"age|年齢", r"\d{1,3}") + _E),
    # 郵便番号 and addresses: Bedrock has no postal-code type; a postal code is part of an ADDRESS.
    Pattern("ADDRESS", r"〒\s?\d{3}-?\d{4}(?!\d)|" + _after(r"郵便番号|postal code|zip(?: code)?", r"\d{3}-\d{4}") + r"(?!\d)"),
    # 都道府県 + 市区町村 (a second one for 政令市の区), then a town name and a block number if present.
    Pattern("ADDRESS", rf"(?:{_PREFECTURES})[一-龥ァ-ヶー]{{1,8}}?[市区町村郡](?:[一-龥ァ-ヶー]{{1,6}}?[区町村])?"
                       r"(?:[一-龥ァ-ヶーの]{0,10}?(?:[0-9０-９]+(?:丁目|番地|番|号|[−－ー-])){1,4}[0-9０-９]*)?"),
    Pattern("ADDRESS", _LB + r"\d{1,6}(?: [A-Z][a-z]+){1,4} (?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|"
                       r"Way|Place|Pl)\b\.?(?:,? (?:Apt|Suite|Unit) \w+)?(?:, [A-Z][a-z]+(?: [A-Z][a-z]+)*)?(?:, [A-Z]{2} \d{5})?"),
)


def detect(text: str, types: set[str]) -> list[Entity]:
    """The PII entities of `types` in `text`, without overlaps (the earliest, then longest, wins)."""
    found: list[tuple[Entity, int]] = []
    for recognizer in RECOGNIZERS:
        if recognizer.entity_type in types:
            found.extend((Entity(recognizer.entity_type, s, e, text[s:e]), recognizer.priority) for s, e in recognizer.find(text))
    found.sort(key=lambda item: (item[0].start, -(item[0].end - item[0].start), item[1]))
    kept: list[Entity] = []
    for entity, _ in found:
        if not kept or entity.start >= kept[-1].end:
            kept.append(entity)
    return kept
