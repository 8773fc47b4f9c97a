"""Precision and recall of the sensitive-information and word-filter detectors
(outcrop.guardrails.pii, .words) on a labelled Japanese/English set: each item lists the
(type, text) findings it should give; hard negatives (order numbers, dates, versions, prices,
numbers with a wrong check digit, profanity-like substrings) should give none. Also prints the
per-item latency. Run: python bench/guardrail_pii.py
"""

from __future__ import annotations

import time
from collections import Counter

from outcrop.guardrails import pii, words
from outcrop.guardrails.wire import PII_TYPES

PII_ITEMS: list[tuple[str, set[tuple[str, str]]]] = [
    ("連絡先は taro.yamada@example.co.jp です。", {("EMAIL", "taro.yamada@example.co.jp")}),
    ("Send it to ops+alerts@mail.example.org please.", {("EMAIL", "ops+alerts@mail.example.org")}),
    ("会社の電話は03-1234-5678です。", {("PHONE", "03-1234-5678")}),
    ("携帯: 090-8765-4321", {("PHONE", "090-8765-4321")}),
    ("Call us on +81 3-1234-5678 from abroad.", {("PHONE", "+81 3-1234-5678")}),
    ("Our US line is (415) 555-2671.", {("PHONE", "(415) 555-2671")}),
    ("London office: +44 20 7946 0958", {("PHONE", "+44 20 7946 0958")}),
    ("Card number 4111 1111 1111 1111, thanks", {("CREDIT_DEBIT_CARD_NUMBER", "4111 1111 1111 1111")}),
    ("カード番号は5500-0000-0000-0004です", {("CREDIT_DEBIT_CARD_NUMBER", "5500-0000-0000-0004")}),
    ("Amex 378282246310005 expires soon", {("CREDIT_DEBIT_CARD_NUMBER", "378282246310005")}),
    ("CVV: 123 and exp 09/28", {("CREDIT_DEBIT_CARD_CVV", "123"), ("CREDIT_DEBIT_CARD_EXPIRY", "09/28")}),
    ("IBAN DE89 3704 0044 0532 0130 00 for the refund", {("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "DE89 3704 0044 0532 0130 00")}),
    ("振込先 GB82WEST12345698765432", {("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "GB82WEST12345698765432")}),
    ("SWIFT code: MUFGJPJT", {("SWIFT_CODE", "MUFGJPJT")}),
    ("BIC DEUTDEFF500 is the branch", {("SWIFT_CODE", "DEUTDEFF500")}),
    ("The server is at 192.168.10.25 behind the NAT.", {("IP_ADDRESS", "192.168.10.25")}),
    ("IPv6 2001:db8:85a3::8a2e:370:7334 works", {("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")}),
    ("MACアドレスは 3C:22:FB:12:34:56 です", {("MAC_ADDRESS", "3C:22:FB:12:34:56")}),
    ("See https://intranet.example.com/hr/payroll for details.", {("URL", "https://intranet.example.com/hr/payroll")}),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", {("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE")}),
    ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", {("AWS_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")}),
    ("My SSN is 123-45-6789.", {("US_SOCIAL_SECURITY_NUMBER", "123-45-6789")}),
    ("ITIN 912-70-1234 on the form", {("US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "912-70-1234")}),
    ("routing number 011000015", {("US_BANK_ROUTING_NUMBER", "011000015")}),
    ("NHS number 943 476 5919", {("UK_NATIONAL_HEALTH_SERVICE_NUMBER", "943 476 5919")}),
    ("NI number AB 12 34 56 C", {("UK_NATIONAL_INSURANCE_NUMBER", "AB 12 34 56 C")}),
    ("VIN 1HGCM82633A004352 on the title", {("VEHICLE_IDENTIFICATION_NUMBER", "1HGCM82633A004352")}),
    ("マイナンバー：1234 5678 9018", {("PIN", "1234 5678 9018")}),
    ("暗証番号は 4821 です", {("PIN", "4821")}),
    ("password: Tr0ub4dor&3", {("PASSWORD", "Tr0ub4dor&3")}),
    ("パスワードは hunter2x です", {("PASSWORD", "hunter2x")}),
    ("username: k.tanaka", {("USERNAME", "k.tanaka")}),
    ("I am 42 years old.", {("AGE", "42")}),
    ("父は78歳です。", {("AGE", "78")}),
    ("〒150-0002 東京都渋谷区渋谷2-21-1", {("ADDRESS", "〒150-0002"), ("ADDRESS", "東京都渋谷区渋谷2-21-1")}),
    ("大阪府大阪市北区梅田3-1-1に届けて", {("ADDRESS", "大阪府大阪市北区梅田3-1-1")}),
    ("Ship to 221 Baker Street, London", {("ADDRESS", "221 Baker Street, London")}),
    ("品川 300 さ 12-34 の車", {("LICENSE_PLATE", "品川 300 さ 12-34")}),
    ("担当は山田太郎です。", {("NAME", "山田太郎")}),
    ("鈴木花子さんに確認してください", {("NAME", "鈴木花子")}),
    ("Please ask Sarah Connor about it.", {("NAME", "Sarah Connor")}),
    ("John Smith and Mary Johnson signed.", {("NAME", "John Smith"), ("NAME", "Mary Johnson")}),
    # hard negatives
    ("Order 1234-5678-9012 shipped on 2024-05-01.", set()),
    ("The total is $1,234.56 for 3 items.", set()),
    ("Version 2.14.1 fixes bug #4567.", set()),
    ("会議は2024年5月1日 10:00-11:30です。", set()),
    ("Card 4111 1111 1111 1112 was declined (bad number).", set()),
    ("番号 1234 5678 9017 は無効です", set()),
    ("IBAN GB82 WEST 1234 5698 7654 33 is mistyped", set()),
    ("Address 999.10.10.10 is not an IP.", set()),
    ("Product code ABCDEFGH ships today.", set()),
    ("The meeting room number is 4021.", set()),
    ("今日はいい天気ですね。", set()),
    ("The weather in Paris is lovely.", set()),
    ("東京タワーは333メートルです。", set()),
    ("Chapter 12, page 345, line 6.", set()),
    ("Our fiscal year 2025 revenue grew 12%.", set()),
    ("ISBN 978-4-06-519981-7 の本", set()),
]

# Written after the recognizers were fixed on PII_ITEMS, and never used to change them.
HELD_OUT: list[tuple[str, set[tuple[str, str]]]] = [
    ("メールはhanako@example.jpまでお願いします", {("EMAIL", "hanako@example.jp")}),
    ("フリーダイヤル 0120-123-456 へ", {("PHONE", "0120-123-456")}),
    ("Tel: 06-6123-4567", {("PHONE", "06-6123-4567")}),
    ("福岡県福岡市中央区天神1丁目1番1号", {("ADDRESS", "福岡県福岡市中央区天神1丁目1番1号")}),
    ("田中一郎様へのお知らせ", {("NAME", "田中一郎")}),
    ("Dr. Emily Watson will see you now.", {("NAME", "Emily Watson")}),
    ("visa 4012888888881881 charged", {("CREDIT_DEBIT_CARD_NUMBER", "4012888888881881")}),
    ("host 10.20.30.40 is down", {("IP_ADDRESS", "10.20.30.40")}),
    ("key ASIAY34FZKBOKMUTVV7A rotated", {("AWS_ACCESS_KEY", "ASIAY34FZKBOKMUTVV7A")}),
    ("price ¥12,800 (tax incl.)", set()),
    ("2024/05/01 12:30 に集合", set()),
    ("Build 20240501-1234 passed", set()),
    ("郵便番号がわかりません", set()),
    ("Tokyo and Osaka are big cities.", set()),
]

WORD_ITEMS: list[tuple[str, set[str]]] = [
    ("This is fucking broken.", {"fucking"}), ("What a piece of shit.", {"piece of shit", "shit"}),
    ("You bastard!", {"bastard"}), ("Don't be an asshole.", {"asshole"}), ("Holy shit, it works", {"shit"}),
    ("うるさい、死ね", {"死ね"}), ("このクソ野郎", {"クソ野郎", "クソ"}), ("ちくしょう、負けた", {"ちくしょう"}),
    ("てめえ、ふざけんな", {"てめえ", "ふざけんな"}), ("バカヤロウ！", {"バカヤロウ"}),
    # hard negatives
    ("The class assessment passed.", set()), ("Scunthorpe is a town.", set()), ("Cocktail hour at five.", set()),
    ("Peniston and Sussex are places.", set()), ("少しね、待って。", set()), ("カスタマーサポートに連絡", set()),
    ("ウェブスタジオで会議", set()), ("デブリが宇宙に漂う", set()), ("ピンボケ写真を直す", set()), ("It's a hell of a good day.", set()),
]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def main() -> None:
    types = set(PII_TYPES)
    pii.detect("warm up 山田太郎 John Smith", types)
    per_type: dict[str, Counter[str]] = {}
    started = time.monotonic()
    for text, expected in PII_ITEMS:
        found = {(e.type, e.text) for e in pii.detect(text, types)}
        for kind, value in found | expected:
            counter = per_type.setdefault(kind, Counter())
            counter["tp" if (kind, value) in found and (kind, value) in expected else
                    "fp" if (kind, value) in found else "fn"] += 1
        if found != expected:
            print(f"  differs: {text!r}: found {sorted(found)} expected {sorted(expected)}")
    pii_ms = (time.monotonic() - started) / len(PII_ITEMS) * 1000
    held = Counter()
    for text, expected in HELD_OUT:
        found = {(e.type, e.text) for e in pii.detect(text, types)}
        held.update({"tp": len(found & expected), "fp": len(found - expected), "fn": len(expected - found)})
        if found != expected:
            print(f"  held-out differs: {text!r}: found {sorted(found)} expected {sorted(expected)}")
    hp, hr = prf(held["tp"], held["fp"], held["fn"])
    print(f"PII held-out: {len(HELD_OUT)} items: tp {held['tp']} fp {held['fp']} fn {held['fn']}, "
          f"precision {hp:.3f}, recall {hr:.3f}")
    total = Counter()
    print(f"PII: {len(PII_ITEMS)} items, {pii_ms:.1f} ms per item (all 31 types)")
    print("type                                     tp fp fn precision recall")
    for kind in sorted(per_type):
        c = per_type[kind]
        total.update(c)
        p, r = prf(c["tp"], c["fp"], c["fn"])
        print(f"{kind:40s} {c['tp']:2d} {c['fp']:2d} {c['fn']:2d} {p:9.3f} {r:6.3f}")
    p, r = prf(total["tp"], total["fp"], total["fn"])
    print(f"{'all':40s} {total['tp']:2d} {total['fp']:2d} {total['fn']:2d} {p:9.3f} {r:6.3f}")

    matcher = words.matcher(words.profanity())
    tp = fp = fn = 0
    for text, expected in WORD_ITEMS:
        found = set(matcher.find(text))
        tp, fp, fn = tp + len(found & expected), fp + len(found - expected), fn + len(expected - found)
        if found != expected:
            print(f"  differs: {text!r}: found {sorted(found)} expected {sorted(expected)}")
    p, r = prf(tp, fp, fn)
    print(f"PROFANITY: {len(WORD_ITEMS)} items: tp {tp} fp {fp} fn {fn}, precision {p:.3f}, recall {r:.3f}")


if __name__ == "__main__":
    main()
