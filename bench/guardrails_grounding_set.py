"""Labelled contextual-grounding items for bench/guardrails.py: (source, query, answer, grounded,
relevant), English and Japanese. Hard negatives: answers that share the source's words but state
something it does not say, and answers on the query's subject that do not answer it."""

from __future__ import annotations

EIFFEL = "The Eiffel Tower in Paris was completed in 1889 for the World's Fair. It is 330 metres tall."
TOKYO_TOWER = "東京タワーは1958年に完成した電波塔で、高さは333メートルです。港区芝公園にあります。"
REFUND = "Refunds are issued within 14 days of receiving the returned item. Shipping costs are not refunded."
HENPIN = "返品は商品到着後30日以内に受け付けます。送料はお客様のご負担となります。"
MEETING = "The quarterly review is on Thursday at 3 pm in room 4B. Alice will present the sales figures."
KAIGI = "定例会議は毎週月曜日の午前10時から第2会議室で行います。議事録は佐藤さんが作成します。"

GROUNDING_ITEMS: list[tuple[str, str, str, bool, bool]] = [
    (EIFFEL, "When was the Eiffel Tower completed?", "The Eiffel Tower was completed in 1889.", True, True),
    (EIFFEL, "How tall is the Eiffel Tower?", "It is 330 metres tall.", True, True),
    (EIFFEL, "How tall is the Eiffel Tower?", "The Eiffel Tower was painted gold by Napoleon.", False, False),
    (EIFFEL, "When was the Eiffel Tower completed?", "Bananas are a good source of potassium.", False, False),
    (EIFFEL, "When was the Eiffel Tower completed?", "Paris is famous for its cafes and museums.", False, False),
    (REFUND, "How long do refunds take?", "Refunds are issued within 14 days after we receive the item.", True, True),
    (REFUND, "Do you refund shipping?", "No, shipping costs are not refunded.", True, True),
    (REFUND, "Do you refund shipping?", "You can pay with a credit card or PayPal.", False, False),
    (REFUND, "How long do refunds take?", "Our store opened in 2005 in Seattle.", False, False),
    (MEETING, "Where is the quarterly review?", "The quarterly review is in room 4B on Thursday.", True, True),
    (MEETING, "Who presents the sales figures?", "Alice will present the sales figures.", True, True),
    (MEETING, "Who presents the sales figures?", "The office cafeteria serves lunch from noon.", False, False),
    (TOKYO_TOWER, "東京タワーはいつ完成しましたか？", "東京タワーは1958年に完成しました。", True, True),
    (TOKYO_TOWER, "東京タワーの高さは？", "高さは333メートルです。", True, True),
    (TOKYO_TOWER, "東京タワーの高さは？", "東京タワーは江戸時代に徳川家康が建てました。", False, False),
    (TOKYO_TOWER, "東京タワーはどこにありますか？", "りんごにはビタミンCが多く含まれています。", False, False),
    (HENPIN, "返品は何日以内にできますか？", "商品到着後30日以内なら返品できます。", True, True),
    (HENPIN, "返品の送料は誰が払いますか？", "送料はお客様のご負担です。", True, True),
    (HENPIN, "返品の送料は誰が払いますか？", "当店では現金払いのみ受け付けています。", False, False),
    (HENPIN, "返品は何日以内にできますか？", "明日の天気は晴れのち曇りでしょう。", False, False),
    (KAIGI, "定例会議はいつですか？", "定例会議は毎週月曜日の午前10時からです。", True, True),
    (KAIGI, "議事録は誰が作りますか？", "議事録は佐藤さんが作成します。", True, True),
    (KAIGI, "議事録は誰が作りますか？", "社員食堂は正午から営業しています。", False, False),
    (KAIGI, "定例会議はいつですか？", "富士山は日本で一番高い山です。", False, False),
    # relevant to the query, contradicting the source: what similarity cannot tell apart
    (EIFFEL, "When was the Eiffel Tower completed?", "The Eiffel Tower was completed in 1925.", False, True),
    (REFUND, "Do you refund shipping?", "Yes, shipping costs are always refunded in full.", False, True),
    (TOKYO_TOWER, "東京タワーの高さは？", "東京タワーの高さは634メートルです。", False, True),
    (HENPIN, "返品は何日以内にできますか？", "返品は商品到着後7日以内に限ります。", False, True),
]

# Written after the bands were chosen and never used to choose them.
PHOTOSYNTHESIS = "Plants make sugar from carbon dioxide and water using sunlight. Oxygen is released as a by-product."
FUJI = "富士山は標高3776メートルの日本最高峰で、2013年に世界文化遺産に登録された。"
LIBRARY = "The city library is open from 9 am to 8 pm on weekdays and closes at 5 pm on Saturdays. It is closed on Sundays."
SHINKANSEN = "東海道新幹線は1964年に開業し、東京と新大阪を結んでいる。"
GROUNDING_HELD_OUT: list[tuple[str, str, str, bool, bool]] = [
    (PHOTOSYNTHESIS, "What do plants release during photosynthesis?", "They release oxygen as a by-product.", True, True),
    (PHOTOSYNTHESIS, "What do plants need for photosynthesis?", "Plants use sunlight, water and carbon dioxide.", True, True),
    (PHOTOSYNTHESIS, "What do plants release during photosynthesis?", "Volcanoes release lava and ash.", False, False),
    (LIBRARY, "Is the library open on Sunday?", "No, the library is closed on Sundays.", True, True),
    (LIBRARY, "When does the library close on Saturday?", "It closes at 5 pm on Saturdays.", True, True),
    (LIBRARY, "When does the library close on Saturday?", "The museum has a new dinosaur exhibit.", False, False),
    (FUJI, "富士山の標高は？", "富士山の標高は3776メートルです。", True, True),
    (FUJI, "富士山はいつ世界遺産になった？", "2013年に世界文化遺産に登録されました。", True, True),
    (FUJI, "富士山の標高は？", "お寿司は日本の伝統的な料理です。", False, False),
    (SHINKANSEN, "東海道新幹線はいつ開業した？", "1964年に開業しました。", True, True),
    (SHINKANSEN, "東海道新幹線はどこを結んでいる？", "東京と新大阪を結んでいます。", True, True),
    (SHINKANSEN, "東海道新幹線はいつ開業した？", "北海道では冬に雪がたくさん降ります。", False, False),
]
