"""Why an attempt failed, as typed exceptions and one-line messages."""
from __future__ import annotations

import ssl


class FetchError(Exception):
    """An attempt failed: `retryable` for connection-level failures, `proxy_fault` when the proxy failed."""

    def __init__(self, message: str, *, retryable: bool = False, proxy_fault: bool = False, timeout: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.proxy_fault = proxy_fault
        self.timeout = timeout


class Closed(Exception):
    """The peer closed the connection."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def connection_error(exc: BaseException, where: str) -> FetchError:
    return FetchError(f"{describe(exc)} ({where})", retryable=True, timeout=isinstance(exc, TimeoutError))
