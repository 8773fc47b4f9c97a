// The page is a client like boto3: it calls the Bedrock routes with JSON bodies and, where the
// server has keys, an API key as `Authorization: Bearer`. Each call remembers the exact body text it
// sent so "Show code" can put the same bytes in its snippets.

import { t } from "./i18n.js";

const KEY = "outcrop.apiKey";
let keyListener = () => {};

export function apiKey() { return sessionStorage.getItem(KEY) || ""; }
export function setApiKey(key) { if (key) sessionStorage.setItem(KEY, key); else sessionStorage.removeItem(KEY); }
export function onAuthProblem(listener) { keyListener = listener; }

export class ApiError extends Error {
  constructor(type, message, status) { super(message); this.type = type; this.status = status; }
  describe() { return t("requestFailed", { type: this.type, message: this.message }); }
}

const AUTH_ERRORS = new Set(["MissingAuthenticationTokenException", "AccessDeniedException", "UnrecognizedClientException"]);

export function modelPath(modelId, action) { return `/model/${encodeURIComponent(modelId)}/${action}`; }

/** fetch with the key; errors become ApiError with Bedrock's type and message. Returns the Response. */
export async function call(path, { method = "GET", bodyText, accept = "application/json", signal, extraHeaders = {} } = {}) {
  const headers = { Accept: accept, ...extraHeaders };
  if (bodyText !== undefined) headers["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: bodyText, signal, credentials: "omit", cache: "no-store" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("NetworkError", t("networkError", { message: error.message }), 0);
  }
  if (!response.ok) {
    let type = (response.headers.get("x-amzn-ErrorType") || `HTTP ${response.status}`).split(":")[0];
    let message = response.statusText;
    try {
      const body = await response.json();
      message = body.message || body.Message || message;
      if (!response.headers.get("x-amzn-ErrorType") && typeof body.error === "string") type = body.error;  // outcrop's own routes
    } catch { /* not JSON */ }
    const error = new ApiError(type, message, response.status);
    const keyProblem = type !== "AccessDeniedException" || /API Key/i.test(message);
    if (response.status === 403 && AUTH_ERRORS.has(type) && keyProblem) keyListener(error);
    throw error;
  }
  return response;
}

export async function getJson(path) { return (await call(path)).json(); }

/** InvokeModel: POST the body text as is and parse the JSON answer. `progressId`: outcrop's own header that
 * lets the page follow the denoising steps (progress.js); the body stays Bedrock's. */
export async function invokeModel(modelId, bodyText, signal, progressId = null) {
  const extraHeaders = progressId ? { "X-Outcrop-Progress-Id": progressId } : {};
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await call(modelPath(modelId, "invoke"), { method: "POST", bodyText, signal, extraHeaders });
      return await response.json();
    } catch (error) {
      // As the AWS SDKs do: a model still loading its weights is retried (here for up to about a minute).
      if (!(error instanceof ApiError) || error.type !== "ModelNotReadyException" || attempt >= 30) throw error;
      await pause(2000, signal);
    }
  }
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("Aborted", "AbortError")); }, { once: true });
  });
}
