"""The seed document's image-generation snippets, copied verbatim (shared/seed/000_*.txt).

Tests exec them with `client`, `input_image` and `mask_image` defined as the document assumes."""

SDXL_TEXT_TO_IMAGE = '''\
import boto3
import json
import base64

client = boto3.client('bedrock-runtime')

response = client.invoke_model(
    modelId='stability.stable-diffusion-xl-v1',
    body=json.dumps({
        "text_prompts": [
            {"text": "夕日に照らされた穏やかな山の風景、デジタルアート", "weight": 1.0}
        ],
        "cfg_scale": 7,
        "steps": 50,
        "seed": 42,
        "width": 1024,
        "height": 1024
    })
)

result = json.loads(response['body'].read())
image_data = base64.b64decode(result['artifacts'][0]['base64'])

with open('generated_image.png', 'wb') as f:
    f.write(image_data)
'''

SDXL_NEGATIVE_BODY = '''\
body = {
    "text_prompts": [
        {"text": "プロフェッショナルなヘッドショットポートレート、スタジオ照明", "weight": 1.0},
        {"text": "ぼやけた、低品質、歪んだ", "weight": -1.0}
    ],
    "cfg_scale": 10,
    "steps": 50
}
'''

TITAN_TEXT_IMAGE = '''\
response = client.invoke_model(
    modelId='amazon.titan-image-generator-v1',
    body=json.dumps({
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {
            "text": "ガラスファサードのモダンなオフィスビル"
        },
        "imageGenerationConfig": {
            "numberOfImages": 1,
            "height": 1024,
            "width": 1024,
            "cfgScale": 8.0
        }
    })
)

result = json.loads(response['body'].read())
image_data = base64.b64decode(result['images'][0])
'''

TITAN_IMAGE_VARIATION = '''\
with open('input_image.png', 'rb') as f:
    input_image = base64.b64encode(f.read()).decode()

response = client.invoke_model(
    modelId='amazon.titan-image-generator-v1',
    body=json.dumps({
        "taskType": "IMAGE_VARIATION",
        "imageVariationParams": {
            "text": "同じシーンを夜に",
            "images": [input_image],
            "similarityStrength": 0.7
        },
        "imageGenerationConfig": {
            "numberOfImages": 3,
            "height": 1024,
            "width": 1024
        }
    })
)
'''

TITAN_INPAINTING = '''\
response = client.invoke_model(
    modelId='amazon.titan-image-generator-v1',
    body=json.dumps({
        "taskType": "INPAINTING",
        "inPaintingParams": {
            "text": "赤いスポーツカー",
            "image": input_image,
            "maskImage": mask_image,  # Base64マスク
            "maskPrompt": "車両"  # またはテキストマスクを使用
        }
    })
)
'''

