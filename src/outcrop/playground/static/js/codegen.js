// "Show code": boto3 and AWS SDK for JavaScript v3 programs that make the request the page made.
// InvokeModel snippets rebuild the exact body text: JSON.stringify and Python's
// json.dumps(ensure_ascii=False, separators=(",", ":")) write the same bytes for the same object
// (same key order, same string escapes, shortest round-trip numbers).

/** Stands for a file's bytes in a Converse request (an attached image). */
export class FileBytes {
  constructor(name) { this.name = name; }
}

/** Stands for a file's bytes as base64 text inside an InvokeModel body (a source image, a mask). */
export class FileBase64 {
  constructor(name, base64) { this.name = name; this.base64 = base64; }
}

/** The body text the page sends: FileBase64 values become their base64 text. */
export function wireText(request) {
  return JSON.stringify(request, (key, value) => (value instanceof FileBase64 ? value.base64 : value));
}

const usesFiles = (request) => JSON.stringify(request, (k, v) => (v instanceof FileBytes || v instanceof FileBase64 ? "__file__" : v))
  .includes("__file__");

function literal(value, lang, depth) {
  const pad = " ".repeat(4 * (depth + 1));
  const end = " ".repeat(4 * depth);
  if (value instanceof FileBytes) {
    return lang === "py" ? `open(${JSON.stringify(value.name)}, "rb").read()` : `readFileSync(${JSON.stringify(value.name)})`;
  }
  if (value instanceof FileBase64) {
    return lang === "py" ? `base64.b64encode(open(${JSON.stringify(value.name)}, "rb").read()).decode()`
      : `readFileSync(${JSON.stringify(value.name)}).toString("base64")`;
  }
  if (value === null) return lang === "py" ? "None" : "null";
  if (value === true) return lang === "py" ? "True" : "true";
  if (value === false) return lang === "py" ? "False" : "false";
  if (typeof value === "number") return JSON.stringify(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((item) => pad + literal(item, lang, depth + 1)).join(",\n")},\n${end}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  const key = (name) => (lang === "js" && /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));
  return `{\n${entries.map(([name, item]) => `${pad}${key(name)}: ${literal(item, lang, depth + 1)}`).join(",\n")},\n${end}}`;
}

export const pyLiteral = (value, depth = 0) => literal(value, "py", depth);
export const jsLiteral = (value, depth = 0) => literal(value, "js", depth);

const PY_KEY_NOTE = "# With API keys configured on the server: export AWS_BEARER_TOKEN_BEDROCK=<key> (botocore sends it over https only).";
const JS_KEY_NOTE = "// With API keys configured on the server: export AWS_BEARER_TOKEN_BEDROCK=<key> (sent over https).";

/** InvokeModel for an image model; `request` is what the page sent (wireText(request) is its body), with
 * FileBase64 where it sent a file's bytes: the snippets read those files (saved beside them). */
export function invokeSnippets(origin, modelId, request) {
  const ext = { jpeg: "jpg", webp: "webp" }[request.output_format] ?? "png";  // SD3 / Stable Image output_format
  const python = `import base64
import json

import boto3

${PY_KEY_NOTE}
client = boto3.client("bedrock-runtime", endpoint_url=${JSON.stringify(origin)}, region_name="us-east-1")
request = ${pyLiteral(request)}
# The same bytes the playground sent:
body = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
response = client.invoke_model(
    modelId=${JSON.stringify(modelId)}, body=body, contentType="application/json", accept="application/json"
)
result = json.loads(response["body"].read())
images = result.get("images") or [artifact["base64"] for artifact in result.get("artifacts", [])]
for i, image in enumerate(images):
    with open(f"image-{i}.${ext}", "wb") as f:
        f.write(base64.b64decode(image))
if "maskImage" in result:  # the mask the server computed for a maskPrompt (returnMask)
    with open("mask-computed.png", "wb") as f:
        f.write(base64.b64decode(result["maskImage"]))
`;
  const javascript = `import { ${usesFiles(request) ? "readFileSync, " : ""}writeFileSync } from "node:fs";
import { BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";

${JS_KEY_NOTE}
const client = new BedrockRuntimeClient({ endpoint: ${JSON.stringify(origin)}, region: "us-east-1" });
const request = ${jsLiteral(request)};
// The same bytes the playground sent:
const body = JSON.stringify(request);
const response = await client.send(new InvokeModelCommand({
  modelId: ${JSON.stringify(modelId)}, body, contentType: "application/json", accept: "application/json",
}));
const result = JSON.parse(new TextDecoder().decode(response.body));
const images = result.images ?? (result.artifacts ?? []).map((artifact) => artifact.base64);
images.forEach((image, i) => writeFileSync(\`image-\${i}.${ext}\`, Buffer.from(image, "base64")));
if (result.maskImage) writeFileSync("mask-computed.png", Buffer.from(result.maskImage, "base64"));  // returnMask
`;
  return { python, javascript };
}

/** Converse / ConverseStream: `request` holds FileBytes where the page sent an image's bytes. */
export function converseSnippets(origin, modelId, request, stream) {
  const pyArgs = Object.entries(request).map(([name, value]) => `    ${name}=${pyLiteral(value, 1)},`).join("\n");
  const jsFields = jsLiteral({ modelId, ...request });
  const python = stream
    ? `import boto3

${PY_KEY_NOTE}
client = boto3.client("bedrock-runtime", endpoint_url=${JSON.stringify(origin)}, region_name="us-east-1")
response = client.converse_stream(
    modelId=${JSON.stringify(modelId)},
${pyArgs}
)
for event in response["stream"]:
    if "contentBlockDelta" in event:
        print(event["contentBlockDelta"]["delta"].get("text", ""), end="", flush=True)
    elif "metadata" in event:
        print()
        print(event["metadata"]["usage"], event["metadata"]["metrics"])
`
    : `import boto3

${PY_KEY_NOTE}
client = boto3.client("bedrock-runtime", endpoint_url=${JSON.stringify(origin)}, region_name="us-east-1")
response = client.converse(
    modelId=${JSON.stringify(modelId)},
${pyArgs}
)
print(response["output"]["message"]["content"][0]["text"])
print(response["usage"], response["metrics"])
`;
  const command = stream ? "ConverseStreamCommand" : "ConverseCommand";
  const javascript = `${usesFiles(request) ? 'import { readFileSync } from "node:fs";\n' : ""}import { BedrockRuntimeClient, ${command} } from "@aws-sdk/client-bedrock-runtime";

${JS_KEY_NOTE}
const client = new BedrockRuntimeClient({ endpoint: ${JSON.stringify(origin)}, region: "us-east-1" });
const response = await client.send(new ${command}(${jsFields}));
${stream
    ? `for await (const event of response.stream) {
  if (event.contentBlockDelta) process.stdout.write(event.contentBlockDelta.delta.text ?? "");
  if (event.metadata) console.log("\\n", event.metadata.usage, event.metadata.metrics);
}`
    : `console.log(response.output.message.content[0].text);
console.log(response.usage, response.metrics);`}
`;
  return { python, javascript };
}

/** ApplyGuardrail: `request` holds FileBytes where the page sent an image's bytes. */
export function applyGuardrailSnippets(origin, request) {
  const pyArgs = Object.entries(request).map(([name, value]) => `    ${name}=${pyLiteral(value, 1)},`).join("\n");
  const python = `import json

import boto3

${PY_KEY_NOTE}
client = boto3.client("bedrock-runtime", endpoint_url=${JSON.stringify(origin)}, region_name="us-east-1")
response = client.apply_guardrail(
${pyArgs}
)
print(response["action"], response.get("actionReason", ""))
print(json.dumps(response["assessments"], indent=2, ensure_ascii=False))
`;
  const javascript = `${usesFiles(request) ? 'import { readFileSync } from "node:fs";\n' : ""}import { ApplyGuardrailCommand, BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";

${JS_KEY_NOTE}
const client = new BedrockRuntimeClient({ endpoint: ${JSON.stringify(origin)}, region: "us-east-1" });
const response = await client.send(new ApplyGuardrailCommand(${jsLiteral(request)}));
console.log(response.action, response.actionReason ?? "");
console.log(JSON.stringify(response.assessments, null, 2));
`;
  return { python, javascript };
}

/** outcrop's own search routes (not a Bedrock API): plain HTTP with the same body bytes; `index` prints the
 * indexing report instead of the hits. */
export function searchSnippets(origin, path, bodyText, index = false) {
  const request = JSON.parse(bodyText);
  const python = `import json
import os
import urllib.request

request = ${pyLiteral(request)}
# The same bytes the playground sent:
body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
headers = {"Content-Type": "application/json"}
if os.environ.get("OUTCROP_API_KEY"):  # with API keys configured on the server
    headers["Authorization"] = "Bearer " + os.environ["OUTCROP_API_KEY"]
call = urllib.request.Request(${JSON.stringify(origin + path)}, data=body, headers=headers, method="POST")
with urllib.request.urlopen(call) as response:
${index ? `    print(json.dumps(json.load(response), indent=2, ensure_ascii=False))` : `    for hit in json.load(response)["hits"]:
        print(f"{hit['score']:.3f}  {hit['path']}")`}
`;
  const javascript = `const request = ${jsLiteral(request)};
// The same bytes the playground sent:
const body = JSON.stringify(request);
const headers = { "Content-Type": "application/json" };
if (process.env.OUTCROP_API_KEY) headers.Authorization = \`Bearer \${process.env.OUTCROP_API_KEY}\`;  // with API keys configured
const response = await fetch(${JSON.stringify(origin + path)}, { method: "POST", headers, body });
${index ? "console.log(JSON.stringify(await response.json(), null, 2));" : "for (const hit of (await response.json()).hits) console.log(hit.score.toFixed(3), hit.path);"}
`;
  return { python, javascript, labels: { python: "pythonHttp", javascript: "javascriptHttp" } };
}
