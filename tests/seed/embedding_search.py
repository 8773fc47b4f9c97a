# Verbatim from the seed document (shared/seed, 「マルチモーダル埋め込みによる画像検索」), with the
# imports and client of its first snippet. Do not edit: tests run this code unchanged.
import boto3
import json
import base64

client = boto3.client('bedrock-runtime')

def get_image_embedding(image_path):
    with open(image_path, 'rb') as f:
        image_data = base64.b64encode(f.read()).decode()

    response = client.invoke_model(
        modelId='amazon.titan-embed-image-v1',
        body=json.dumps({
            "inputImage": image_data
        })
    )

    return json.loads(response['body'].read())['embedding']

def get_text_embedding(text):
    response = client.invoke_model(
        modelId='amazon.titan-embed-image-v1',
        body=json.dumps({
            "inputText": text
        })
    )
    return json.loads(response['body'].read())['embedding']

# テキストクエリで画像を検索
query_embedding = get_text_embedding("赤い車")
# データベース内の画像埋め込みと比較
