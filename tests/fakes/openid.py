"""A local Bot Framework OpenID endpoint (metadata + JWKS) and a token signer for auth tests.

Served by a plain threaded HTTP server, because botbuilder fetches keys with synchronous
``requests`` from inside the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://api.botframework.com"
APP_ID = "11111111-2222-3333-4444-555555555555"  # the bot's app id in tests that validate real tokens


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, kid: str | None = None, endorsements: list[str] | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.endorsements = endorsements if endorsements is not None else ["msteams"]

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA", "use": "sig", "kid": self.kid, "n": _b64(numbers.n), "e": _b64(numbers.e),
            "endorsements": self.endorsements,
        }


class OpenIdServer:
    """Serves /.well-known/openidconfiguration and /keys on 127.0.0.1."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = keys
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/.well-known/openidconfiguration"):
                    body = {"issuer": ISSUER, "jwks_uri": f"{outer.base_url}/keys",
                            "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path.startswith("/keys"):
                    body = {"keys": [key.jwk() for key in outer.keys]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openidconfiguration"

    def start(self) -> OpenIdServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def sign_token(
    key: SigningKey,
    *,
    audience: str,
    service_url: str,
    issuer: str = ISSUER,
    expires_in: int = 3600,
    kid: str | None = None,
    extra: dict[str, Any] | None = None,
    omit: tuple[str, ...] = (),
    algorithm: str = "RS256",
) -> str:
    """A token signed with ``key`` (``algorithm``: any RSA one); ``extra`` overrides claims, ``omit`` drops them."""
    now = int(time.time())
    claims = {
        "iss": issuer, "aud": audience, "serviceurl": service_url,
        "nbf": now - 60, "iat": now - 60, "exp": now + expires_in,
    }
    claims.update(extra or {})
    for name in omit:
        claims.pop(name, None)
    return jwt.encode(claims, key.private, algorithm=algorithm, headers={"kid": kid or key.kid})


def forge_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token PyJWT would not sign: ``alg: none`` (``secret`` None: empty signature) or HMAC over ``secret``.

    What an attacker sends: an unsigned token, or one "signed" with the published RSA public key as an HMAC secret.
    """

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    if secret is None:
        return f"{signing_input}."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def public_pem(key: SigningKey) -> bytes:
    return key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
