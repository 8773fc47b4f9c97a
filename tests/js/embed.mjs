// One InvokeModel call with the AWS SDK for JavaScript v3, as a Bedrock user writes it. The endpoint
// comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME (the SDK reads it itself), credentials and region from
// the environment. Prints one JSON line: {"length": N} on success, {"error": NAME, ...} on failure.
// Usage: node embed.mjs MODEL_ID BODY_JSON
import { BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";

const [modelId, body] = process.argv.slice(2);
const client = new BedrockRuntimeClient({ maxAttempts: 1 });
try {
  const response = await client.send(
    new InvokeModelCommand({ modelId, body, contentType: "application/json", accept: "application/json" }),
  );
  const result = JSON.parse(new TextDecoder().decode(response.body));
  console.log(JSON.stringify({ length: result.embedding.length, tokens: result.inputTextTokenCount }));
} catch (error) {
  console.log(JSON.stringify({
    error: error.name,
    message: error.message,
    status: error.$metadata?.httpStatusCode,
  }));
  process.exitCode = 1;
} finally {
  client.destroy();
}
