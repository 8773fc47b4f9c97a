"""Authentication as Bedrock does it: SigV4 for service `bedrock` and Bedrock API keys (bearer)."""

from outcrop.server.auth.keys import KeyStore, Permissions, Principal, load_keys
from outcrop.server.auth.middleware import Authenticate

__all__ = ["Authenticate", "KeyStore", "Permissions", "Principal", "load_keys"]
