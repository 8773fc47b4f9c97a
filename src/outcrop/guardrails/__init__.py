"""Guardrails as Bedrock has them: the `bedrock` control plane's guardrail resources (wire.py,
store.py, control.py), the detectors behind each policy (words.py, pii.py, regexes.py,
topics.py) and the evaluator that writes Bedrock's assessment shapes (evaluator.py), used by
ApplyGuardrail and by `guardrailConfig` on Converse/ConverseStream (enforce.py)."""
