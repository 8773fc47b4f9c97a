"""The seed document's complete application (「完全なマルチモーダルアプリケーション」), copied verbatim
(shared/seed/000_*.txt). Do not edit: tests run it unchanged, and with its class swapped for
`from outcrop import MultimodalAssistant`."""

SEED_APP = '''\
import boto3
import base64
import json

class MultimodalAssistant:
    def __init__(self):
        self.client = boto3.client('bedrock-runtime')

    def generate_image(self, prompt: str, negative_prompt: str = None) -> bytes:
        body = {
            "text_prompts": [{"text": prompt, "weight": 1.0}],
            "cfg_scale": 8,
            "steps": 50,
            "width": 1024,
            "height": 1024
        }
        if negative_prompt:
            body["text_prompts"].append({"text": negative_prompt, "weight": -1.0})

        response = self.client.invoke_model(
            modelId='stability.stable-diffusion-xl-v1',
            body=json.dumps(body)
        )
        result = json.loads(response['body'].read())
        return base64.b64decode(result['artifacts'][0]['base64'])

    def analyze_image(self, image_bytes: bytes, question: str) -> str:
        response = self.client.converse(
            modelId='anthropic.claude-3-sonnet-20240229-v1:0',
            messages=[{
                "role": "user",
                "content": [
                    {"image": {"format": "png", "source": {"bytes": image_bytes}}},
                    {"text": question}
                ]
            }]
        )
        return response['output']['message']['content'][0]['text']

# 使用例
assistant = MultimodalAssistant()
image = assistant.generate_image("居心地の良いカフェの内装、暖かい照明")
analysis = assistant.analyze_image(image, "このインテリアデザインのスタイルは？")
'''


def with_sdk_import(source: str = SEED_APP) -> str:
    """The seed's program with its class definition replaced by the SDK's import, nothing else changed."""
    start = source.index("class MultimodalAssistant:")
    end = source.index("# 使用例")
    return source[:start] + "from outcrop import MultimodalAssistant\n\n" + source[end:]


def class_only(source: str = SEED_APP) -> str:
    """The seed's imports and class, without its usage lines."""
    return source[: source.index("# 使用例")]
