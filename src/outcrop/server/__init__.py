"""The ASGI app and the HTTP/1.1 + HTTP/2 server around it."""
