// Every UI string in English and Japanese. Elements name their string with data-i18n (text),
// data-i18n-aria (aria-label) or data-i18n-placeholder; code calls t(key, values).

const STRINGS = {
  en: {
    skip: "Skip to content", title: "outcrop playground", tabs: "Sections", tabImages: "Images", tabChat: "Chat",
    tabModels: "Models & health", apiDocs: "API reference", apiKey: "API key", useKey: "Use key",
    keyHint: "The key is kept in this tab only (sessionStorage) and sent as Authorization: Bearer.",
    keyCleartext: "This page is served over plain http to a host that is not this machine: the key travels unencrypted. Serve with --tls-cert/--tls-key.",
    keyMissing: "This server requires an API key.", keyInvalid: "The server refused the API key: {message}",
    imagesTitle: "Generate and edit images", model: "Model", prompt: "Prompt", negative: "Negative prompt", size: "Size",
    cfg: "CFG scale", seed: "Seed", sdxlParams: "Stable Diffusion XL", promptWeight: "Prompt weight",
    negativeWeight: "Negative weight", steps: "Steps", sampler: "Sampler", style: "Style preset",
    titanParams: "Titan / Nova Canvas", quality: "Quality", count: "Number of images", generate: "Generate",
    cancel: "Cancel", showCode: "Show code", hideCode: "Hide code", gallery: "History", defaultOption: "(default)",
    noImageModels: "This server serves no image model.", noChatModels: "This server serves no chat model.",
    generating: "Generating…", generated: "{count} image(s) in {ms} ms", cancelled: "Cancelled.",
    seedRandom: "0 = random", galleryAlt: "Generated image: {prompt}", captionSeed: "seed {seed}",
    chatTitle: "Chat (Converse)", system: "System prompt", maxTokens: "Max tokens", temperature: "Temperature",
    topP: "Top P", stream: "Stream (ConverseStream)", transcript: "Conversation", message: "Message",
    attach: "Attach images or documents: PDF, txt, md, csv, html, docx… (or drop / paste them here)", send: "Send", stop: "Stop", clear: "New conversation",
    remove: "Remove {name}", you: "You", assistant: "Assistant", thinking: "Waiting for the first token…",
    streaming: "Streaming…", stopped: "Stopped.", emptyMessage: "Write a message or attach an image.",
    usage: "{input} input + {output} output = {total} tokens · server {latency} ms · first token {ttft} ms · total {elapsed} ms · {stop}",
    modelsTitle: "Models and health", refresh: "Refresh", modelsCaption: "What this server serves", colModel: "Model id",
    colModalities: "Input → output", colStreaming: "Streaming", colState: "Load state", colQueue: "Queue",
    yes: "yes", no: "no", notLoaded: "not loaded yet", devices: "Device memory", noDevice: "No accelerator memory reported (CPU).",
    healthSummary: "{status} · version {version} · profile {profile} · {count} model ids · {inflight} request(s) in flight",
    copy: "Copy", copied: "Copied.", python: "Python (boto3)", javascript: "JavaScript (AWS SDK v3)", codeFor: "Code for",
    pythonHttp: "Python (urllib, standard library)", javascriptHttp: "JavaScript (fetch)",
    codeNote: "The same request the page sent last: the body below is byte for byte what went over the wire.",
    noRequestYet: "Run a request first; its code appears here.", unsupportedFile: "{name}: only PNG, JPEG, GIF and WebP images.",
    requestFailed: "{type}: {message}", networkError: "The server could not be reached: {message}",
    tabSearch: "Search", tabGuardrails: "Guardrails", searchTitle: "Image search",
    searchHint: "outcrop's own routes (/outcrop/v1), not a Bedrock API. Index a folder below, or with `outcrop index`.",
    searchEmpty: "This server has no collection yet.", collection: "Collection", results: "Results",
    searchText: "Text query (any language)", search: "Search", searchImage: "Or by an image", searchImageGo: "Search by image",
    searchCaption: "Results, best first", colScore: "Score", colPath: "File", colPixels: "Pixels", colSize: "Size",
    colTaken: "Taken", colAction: "Action", searchByThis: "Search by this", searchByPath: "Search by this: {path}",
    searching: "Searching…", searchDone: "{count} result(s) in {ms} ms",
    guardrailsTitle: "Guardrails (ApplyGuardrail)", guardrailsEmpty: "No guardrail yet: create one with the bedrock control plane (CreateGuardrail).",
    guardrail: "Guardrail", version: "Version", source: "Source", scope: "Output scope", grText: "Text to check",
    grImage: "Image to check (optional)", apply: "Apply guardrail", grAction: "Action", grOutputs: "Outputs", grAssessments: "Assessments",
    task: "Task", editParams: "Source image", sourceImage: "Source image (a file, or \u201cEdit\u201d on an image in the history)",
    sourceAlt: "Source image", maskAlt: "Mask painted over the source image", brushMode: "Brush", brushDraw: "Draw", brushErase: "Erase",
    brushSize: "Brush size", clearMask: "Clear mask", maskPrompt: "Mask by text (maskPrompt): what to repaint",
    maskPromptHint: "When filled, the server segments this text instead of using the painted mask, and returns the mask it computed (returnMask).",
    similarity: "Similarity strength", imageStrength: "Image strength (how much of the source stays)", outpaintMode: "Outpainting mode",
    editFiles: "Files the code reads:", progress: "Denoising steps", computedMask: "Mask the server computed",
    taskImageToImage: "Image to image", task_TEXT_IMAGE: "Text to image", task_IMAGE_VARIATION: "Variation",
    task_INPAINTING: "Inpainting", task_OUTPAINTING: "Outpainting", task_BACKGROUND_REMOVAL: "Background removal",
    brushHintInpaint: "Paint over what to repaint.", brushHintOutpaint: "Paint over what to keep; everything else is repainted.",
    runEdit: "Run edit", sourceLoaded: "{name}: {width} × {height}", maskCoverage: "Mask: {percent}% of the image",
    needSource: "Pick a source image first (a file, or \u201cEdit\u201d in the history).", needMask: "Paint a mask on the image first.",
    needMaskOrPrompt: "Paint a mask on the image, or describe what to repaint (mask by text).",
    stepOf: "Step {step} of {steps}", computedMaskAlt: "Mask the server computed for: {prompt}",
    computedMaskNote: "Black: inside the mask (repainted); white: kept. This is the server's maskImage, as it returned it.",
    noMaskReturned: "The server returned no mask for this maskPrompt; only its result is shown, in the history.",
    editThis: "Edit", editThisLabel: "Edit this image: {prompt}", historyImage: "history image {number}",
    unsupportedAttachment: "{name}: attach PNG, JPEG, GIF or WebP images, or pdf, csv, doc, docx, xls, xlsx, html, txt or md documents.",
    documentNeedsText: "A message with a document needs text too (Converse requires it).",
    indexTitle: "Index a folder on the server", indexCollection: "Collection (new or existing)",
    indexFolder: "Folder (inside the server's OUTCROP_SEARCH_ROOTS)", indexRecursive: "Sub-folders too", indexGo: "Index",
    indexing: "Indexing… (the answer comes when the folder is done)",
    indexDone: "{collection}: {count} images · {embedded} embedded, {unchanged} unchanged, {reused} reused, {deleted} removed, {skipped} skipped · {seconds} s",
    extendHint: "Extend the picture: a larger canvas with the original in it; the border is repainted, the original kept (the mask covers it).",
    padLeft: "Add left (px)", padRight: "Add right (px)", padTop: "Add top (px)", padBottom: "Add bottom (px)", extendCanvas: "Extend canvas",
    extendedLabel: "{name}, extended", needPadding: "Give at least one side a number of pixels to add.",
    paletteParams: "Colour palette (colorGuidedGenerationParams)", palette: "Colours", addColour: "Add colour",
    colourN: "Colour {n}", removeColourN: "Remove colour {n}", colourCount: "{count} of at most {max} colours",
    referenceImage: "Reference image (optional)", pickFromFile: "Or a file", pickNone: "(none)", pickFile: "File: {name}",
    pickChosen: "Sending {name}", conditionParams: "Condition image (optional, ControlNet)", conditionImage: "Condition image",
    controlMode: "Control mode", controlStrength: "Control strength", task_COLOR_GUIDED_GENERATION: "Colour-guided generation",
    sd3Params: "Stable Diffusion 3 / Stable Image", aspectRatio: "Aspect ratio", outputFormat: "Output format",
    sd3Strength: "Strength (0 keeps the source, 1 ignores it)", filtered: "No image: {reason}",
    documentBlock: "Document: {name} ({format})", jsonValid: "Valid JSON:", jsonInvalid: "Invalid JSON:", jsonPretty: "The answer's JSON, pretty-printed",
  },
  ja: {
    skip: "本文へ移動", title: "outcrop プレイグラウンド", tabs: "セクション", tabImages: "画像", tabChat: "チャット",
    tabModels: "モデルと状態", apiDocs: "API リファレンス", apiKey: "API キー", useKey: "キーを使う",
    keyHint: "キーはこのタブの中だけ (sessionStorage) に保持され、Authorization: Bearer として送られます。",
    keyCleartext: "このページは別のホストから平文の http で配信されています。キーは暗号化されずに送られます。--tls-cert/--tls-key で配信してください。",
    keyMissing: "このサーバーには API キーが必要です。", keyInvalid: "サーバーが API キーを拒否しました: {message}",
    imagesTitle: "画像の生成と編集", model: "モデル", prompt: "プロンプト", negative: "ネガティブプロンプト", size: "サイズ",
    cfg: "CFG スケール", seed: "シード", sdxlParams: "Stable Diffusion XL", promptWeight: "プロンプトの重み",
    negativeWeight: "ネガティブの重み", steps: "ステップ数", sampler: "サンプラー", style: "スタイルプリセット",
    titanParams: "Titan / Nova Canvas", quality: "品質", count: "画像の枚数", generate: "生成",
    cancel: "キャンセル", showCode: "コードを表示", hideCode: "コードを隠す", gallery: "履歴", defaultOption: "(既定)",
    noImageModels: "このサーバーは画像モデルを提供していません。", noChatModels: "このサーバーはチャットモデルを提供していません。",
    generating: "生成中…", generated: "{count} 枚 ({ms} ms)", cancelled: "キャンセルしました。",
    seedRandom: "0 = ランダム", galleryAlt: "生成された画像: {prompt}", captionSeed: "シード {seed}",
    chatTitle: "チャット (Converse)", system: "システムプロンプト", maxTokens: "最大トークン数", temperature: "温度 (temperature)",
    topP: "Top P", stream: "ストリーミング (ConverseStream)", transcript: "会話", message: "メッセージ",
    attach: "画像や文書を添付: PDF・txt・md・csv・html・docx など (ここにドロップ・貼り付けも可)", send: "送信", stop: "停止", clear: "新しい会話",
    remove: "{name} を削除", you: "あなた", assistant: "アシスタント", thinking: "最初のトークンを待っています…",
    streaming: "受信中…", stopped: "停止しました。", emptyMessage: "メッセージを書くか画像を添付してください。",
    usage: "入力 {input} + 出力 {output} = {total} トークン · サーバー {latency} ms · 最初のトークン {ttft} ms · 合計 {elapsed} ms · {stop}",
    modelsTitle: "モデルと状態", refresh: "更新", modelsCaption: "このサーバーが提供するもの", colModel: "モデル ID",
    colModalities: "入力 → 出力", colStreaming: "ストリーミング", colState: "読み込み状態", colQueue: "キュー",
    yes: "はい", no: "いいえ", notLoaded: "未読み込み", devices: "デバイスメモリ", noDevice: "アクセラレータのメモリ報告なし (CPU)。",
    healthSummary: "{status} · バージョン {version} · プロファイル {profile} · モデル ID {count} 件 · 処理中 {inflight} 件",
    copy: "コピー", copied: "コピーしました。", python: "Python (boto3)", javascript: "JavaScript (AWS SDK v3)", codeFor: "コード",
    pythonHttp: "Python (urllib、標準ライブラリ)", javascriptHttp: "JavaScript (fetch)",
    codeNote: "ページが最後に送ったのと同じリクエストです。下の本文は送信されたバイト列そのものです。",
    noRequestYet: "まずリクエストを実行してください。そのコードがここに表示されます。", unsupportedFile: "{name}: PNG・JPEG・GIF・WebP の画像のみです。",
    requestFailed: "{type}: {message}", networkError: "サーバーに接続できません: {message}",
    tabSearch: "検索", tabGuardrails: "ガードレール", searchTitle: "画像検索",
    searchHint: "outcrop 独自のルート (/outcrop/v1) で、Bedrock の API ではありません。フォルダは下のフォームか `outcrop index` で索引します。",
    searchEmpty: "このサーバーにはまだコレクションがありません。", collection: "コレクション", results: "件数",
    searchText: "テキストで検索 (どの言語でも)", search: "検索", searchImage: "または画像で", searchImageGo: "画像で検索",
    searchCaption: "結果 (近い順)", colScore: "スコア", colPath: "ファイル", colPixels: "画素", colSize: "サイズ",
    colTaken: "撮影日", colAction: "操作", searchByThis: "これで検索", searchByPath: "これで検索: {path}",
    searching: "検索中…", searchDone: "{count} 件 ({ms} ms)",
    guardrailsTitle: "ガードレール (ApplyGuardrail)", guardrailsEmpty: "ガードレールがまだありません。bedrock コントロールプレーン (CreateGuardrail) で作成してください。",
    guardrail: "ガードレール", version: "バージョン", source: "対象", scope: "出力の範囲", grText: "確認するテキスト",
    grImage: "確認する画像 (任意)", apply: "ガードレールを適用", grAction: "判定", grOutputs: "出力", grAssessments: "評価の詳細",
    task: "タスク", editParams: "元の画像", sourceImage: "元の画像 (ファイル、または履歴の画像の「編集」)",
    sourceAlt: "元の画像", maskAlt: "元の画像の上に塗ったマスク", brushMode: "ブラシ", brushDraw: "塗る", brushErase: "消す",
    brushSize: "ブラシの大きさ", clearMask: "マスクを消去", maskPrompt: "テキストでマスク (maskPrompt): 描き直す部分",
    maskPromptHint: "入力すると、塗ったマスクの代わりにサーバーがこのテキストで領域を切り出し、計算したマスクを返します (returnMask)。",
    similarity: "類似度 (similarityStrength)", imageStrength: "画像の強さ (元の画像を残す度合い)", outpaintMode: "アウトペイントのモード",
    editFiles: "コードが読むファイル:", progress: "ノイズ除去のステップ", computedMask: "サーバーが計算したマスク",
    taskImageToImage: "画像から画像", task_TEXT_IMAGE: "テキストから画像", task_IMAGE_VARIATION: "バリエーション",
    task_INPAINTING: "インペイント", task_OUTPAINTING: "アウトペイント", task_BACKGROUND_REMOVAL: "背景の除去",
    brushHintInpaint: "描き直す部分を塗ってください。", brushHintOutpaint: "残す部分を塗ってください。それ以外が描き直されます。",
    runEdit: "編集を実行", sourceLoaded: "{name}: {width} × {height}", maskCoverage: "マスク: 画像の {percent}%",
    needSource: "まず元の画像を選んでください (ファイル、または履歴の「編集」)。", needMask: "まず画像の上にマスクを塗ってください。",
    needMaskOrPrompt: "画像の上にマスクを塗るか、描き直す部分をテキストで指定してください。",
    stepOf: "ステップ {step} / {steps}", computedMaskAlt: "サーバーが計算したマスク: {prompt}",
    computedMaskNote: "黒: マスクの内側 (描き直す部分)、白: 残す部分。サーバーが返した maskImage そのものです。",
    noMaskReturned: "この maskPrompt に対してサーバーはマスクを返しませんでした。結果だけを履歴に表示しています。",
    editThis: "編集", editThisLabel: "この画像を編集: {prompt}", historyImage: "履歴の画像 {number}",
    unsupportedAttachment: "{name}: 添付できるのは PNG・JPEG・GIF・WebP の画像か、pdf・csv・doc・docx・xls・xlsx・html・txt・md の文書です。",
    documentNeedsText: "文書を添付したメッセージにはテキストも必要です (Converse の要件)。",
    indexTitle: "サーバーのフォルダを索引", indexCollection: "コレクション (新規または既存)",
    indexFolder: "フォルダ (サーバーの OUTCROP_SEARCH_ROOTS の中)", indexRecursive: "サブフォルダも", indexGo: "索引する",
    indexing: "索引中… (フォルダが終わると結果が届きます)",
    indexDone: "{collection}: {count} 枚 · 埋め込み {embedded}、変更なし {unchanged}、再利用 {reused}、削除 {deleted}、スキップ {skipped} · {seconds} 秒",
    extendHint: "画像を広げる: 元の画像を置いた大きなキャンバスを作り、周りを描き足します (マスクが元の画像を覆い、そこは残ります)。",
    padLeft: "左に追加 (px)", padRight: "右に追加 (px)", padTop: "上に追加 (px)", padBottom: "下に追加 (px)", extendCanvas: "キャンバスを広げる",
    extendedLabel: "{name} (拡張)", needPadding: "どれかの辺に追加する画素数を入れてください。",
    paletteParams: "カラーパレット (colorGuidedGenerationParams)", palette: "色", addColour: "色を追加",
    colourN: "色 {n}", removeColourN: "色 {n} を削除", colourCount: "{count} 色 (最大 {max} 色)",
    referenceImage: "参照画像 (任意)", pickFromFile: "またはファイル", pickNone: "(なし)", pickFile: "ファイル: {name}",
    pickChosen: "{name} を送ります", conditionParams: "条件画像 (任意、ControlNet)", conditionImage: "条件画像",
    controlMode: "制御モード", controlStrength: "制御の強さ", task_COLOR_GUIDED_GENERATION: "色で誘導する生成",
    sd3Params: "Stable Diffusion 3 / Stable Image の設定", aspectRatio: "アスペクト比", outputFormat: "出力形式",
    sd3Strength: "強さ (0 で元の画像のまま、1 で元の画像を無視)", filtered: "画像なし: {reason}",
    documentBlock: "文書: {name} ({format})", jsonValid: "正しい JSON:", jsonInvalid: "不正な JSON:", jsonPretty: "回答の JSON (整形済み)",
  },
};

const stored = localStorage.getItem("outcrop.lang");
let current = stored === "ja" || stored === "en" ? stored : (navigator.language || "en").startsWith("ja") ? "ja" : "en";
const listeners = [];

export function language() { return current; }

export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function onLanguage(listener) { listeners.push(listener); }

export function applyI18n(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  const button = document.getElementById("lang");
  button.textContent = current === "ja" ? "English" : "日本語";
  button.lang = current === "ja" ? "en" : "ja";
  document.title = t("title");
}

export function setLanguage(lang) {
  current = lang;
  localStorage.setItem("outcrop.lang", lang);
  applyI18n();
  for (const listener of listeners) listener(lang);
}

export const STRING_KEYS = { en: Object.keys(STRINGS.en), ja: Object.keys(STRINGS.ja) };
