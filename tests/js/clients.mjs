// The JavaScript clients of tests/test_client_matrix.py, as a Bedrock user writes them: the AWS SDK for
// JavaScript v3 with its default client (HTTP/2 for bedrock-runtime) and the Vercel AI SDK's Bedrock
// provider (its own fetch and SigV4 code). The endpoint comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME, which
// both read themselves; credentials and region from the environment; a self-signed CA from NODE_EXTRA_CA_CERTS.
//
// Reads a JSON array of calls on stdin and prints one JSON array of results. Bytes travel as
// {"$b64": "..."} both ways; large responses come back as their length and SHA-256, so the test can
// compare them with what boto3 receives for the same request.
import { createHash } from "node:crypto";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock";
import { embed, generateImage, generateText, streamText } from "ai";

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

function decodeBytes(value) {
  if (Array.isArray(value)) return value.map(decodeBytes);
  if (value && typeof value === "object") {
    if (typeof value.$b64 === "string") return new Uint8Array(Buffer.from(value.$b64, "base64"));
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decodeBytes(item)]));
  }
  return value;
}

function failure(error, extra = {}) {
  return {
    error: error.name,
    message: error.message,
    status: error.$metadata?.httpStatusCode ?? error.statusCode,
    ...extra,
  };
}

async function awsSdk(call) {
  const client = new BedrockRuntimeClient(call.config ?? {});
  const input = decodeBytes(call.input);
  const events = [];
  try {
    switch (call.op) {
      case "InvokeModel": {
        const response = await client.send(new InvokeModelCommand({
          ...input, body: JSON.stringify(input.body), contentType: "application/json", accept: "application/json",
        }));
        return { length: response.body.length, sha256: sha256(response.body), contentType: response.contentType };
      }
      case "InvokeModelWithResponseStream": {
        const response = await client.send(new InvokeModelWithResponseStreamCommand({
          ...input, body: JSON.stringify(input.body), contentType: "application/json", accept: "application/json",
        }));
        for await (const event of response.body) {
          events.push(event.chunk ? JSON.parse(new TextDecoder().decode(event.chunk.bytes)) : event);
        }
        return { events };
      }
      case "Converse": {
        const response = await client.send(new ConverseCommand(input));
        return { output: response.output, stopReason: response.stopReason, usage: response.usage };
      }
      case "ConverseStream": {
        const response = await client.send(new ConverseStreamCommand(input));
        for await (const event of response.stream) events.push(event);
        return { events };
      }
      default:
        throw new Error(`unknown AWS SDK operation ${call.op}`);
    }
  } catch (error) {
    return failure(error, { events });
  } finally {
    client.destroy();
  }
}

async function aiSdk(call) {
  const bedrock = createAmazonBedrock();
  const input = decodeBytes(call.input);
  try {
    switch (call.op) {
      case "generateText": {
        const result = await generateText({ model: bedrock(call.modelId), ...input });
        return { text: result.text, finishReason: result.finishReason, usage: result.usage };
      }
      case "streamText": {
        const result = streamText({ model: bedrock(call.modelId), ...input, onError: () => {} });
        const deltas = [];
        for await (const delta of result.textStream) deltas.push(delta);
        return { deltas, finishReason: await result.finishReason, usage: await result.usage };
      }
      case "embed": {
        const result = await embed({ model: bedrock.embedding(call.modelId), ...input });
        return { length: result.embedding.length, embedding: result.embedding, usage: result.usage };
      }
      case "generateImage": {
        const result = await generateImage({ model: bedrock.image(call.modelId), ...input });
        return { images: result.images.map((image) => ({ length: image.uint8Array.length, sha256: sha256(image.uint8Array) })) };
      }
      default:
        throw new Error(`unknown AI SDK operation ${call.op}`);
    }
  } catch (error) {
    return failure(error);
  }
}

let text = "";
for await (const chunk of process.stdin) text += chunk;
const results = [];
for (const call of JSON.parse(text)) {
  results.push(call.client === "ai-sdk" ? await aiSdk(call) : await awsSdk(call));
}
console.log(JSON.stringify(results));
