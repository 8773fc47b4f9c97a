"""The playground: a web page served at `/` that drives the server's own Bedrock routes, and the
OpenAPI page at `/docs`, both from files shipped in the package (no CDN, works offline)."""

from outcrop.playground.mount import STATIC_DIR, PlaygroundAssets, install_docs

__all__ = ["STATIC_DIR", "PlaygroundAssets", "install_docs"]
