"""A stand-in for Hugging Face's OpenID Connect provider, on 127.0.0.1.

What Gradio's Space login (authlib) asks of it: the discovery document, ``/authorize`` (answers at
once with a code for :attr:`OAuthStandIn.user`, as if that user had clicked "Authorize"),
``/token`` (an access token and an RS256 ID token carrying the nonce the app sent) and the key
set. Point a Space app at it with ``OPENID_PROVIDER_URL`` (see :meth:`space_env`).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "qer-test-client"
CLIENT_SECRET = "qer-test-secret"  # noqa: S105 - a loopback stand-in's


@dataclass
class OAuthStandIn:
    user: str = "alice"
    """Who logs in next."""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)
    """Users a token was issued to, in order."""
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def space_env(self) -> dict[str, str]:
        """The variables a Space with ``hf_oauth: true`` gets, pointing at this stand-in."""
        return {
            "SYSTEM": "spaces",
            "SPACE_ID": "qer/test-space",
            "OAUTH_CLIENT_ID": CLIENT_ID,
            "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
            "OAUTH_SCOPES": "openid profile",
            "OPENID_PROVIDER_URL": self.url,
        }

    def id_token(self, user: str, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url, "sub": f"id-{user}", "aud": CLIENT_ID, "iat": now,
            "exp": now + 3600, "name": user.title(), "preferred_username": user,
            "profile": f"https://huggingface.co/{user}", "picture": "",
        }  # fmt: skip
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)

    def start(self) -> OAuthStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    self._json({
                        "issuer": standin.url,
                        "authorization_endpoint": f"{standin.url}/authorize",
                        "token_endpoint": f"{standin.url}/token",
                        "jwks_uri": f"{standin.url}/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    })  # fmt: skip
                elif parts.path == "/jwks":
                    self._json({"keys": [standin.key.as_dict(private=False)]})
                elif parts.path == "/authorize":
                    code = secrets.token_urlsafe(16)
                    standin.codes[code] = {"user": standin.user, "nonce": query.get("nonce")}
                    back = urlencode({"code": code, "state": query.get("state", "")})
                    target = query["redirect_uri"]
                    self.send_response(302)
                    self.send_header("Location", target + ("&" if "?" in target else "?") + back)
                    self.end_headers()
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                grant = standin.codes.pop(form.get("code", ""), None)
                if urlsplit(self.path).path != "/token" or grant is None:
                    self.send_error(400)
                    return
                standin.logins.append(grant["user"])
                self._json({
                    "access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                    "expires_in": 3600, "scope": "openid profile",
                    "id_token": standin.id_token(grant["user"], grant["nonce"]),
                })  # fmt: skip

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
