"""Domain errors, transport-neutral.

Every error raised by tongban code derives from :class:`PlatformError` and carries a stable
machine-readable ``code``. The web layers translate these kinds to HTTP (RFC 9457 problem
details) in exactly one place each; nothing below them knows about status codes.

    PlatformError
    ├── InvalidError            input breaks a rule (bad catalog item, bad date, ...)
    │   └── ValidationError     several problems at once, listed in ``problems``
    ├── NotFoundError           the thing asked for does not exist
    ├── ConflictError           the request clashes with what is already recorded
    ├── AuthenticationError     who is calling is unknown
    ├── PermissionDeniedError   the caller may not do this here
    ├── SignatureInvalidError   a signature or key does not verify
    └── UnavailableError        a dependency is down; retrying later may work
"""

from __future__ import annotations


class PlatformError(Exception):
    """Root of every tongban error."""

    code = "platform_error"
    title = "平台错误"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidError(PlatformError):
    """Input breaks a rule."""

    code = "invalid"
    title = "输入不符合要求"


class ValidationError(InvalidError):
    """Several validation problems reported together, so a user can fix them in one pass."""

    code = "validation_failed"
    title = "校验未通过"

    def __init__(self, problems: list[str], *, message: str | None = None) -> None:
        super().__init__(message or "；".join(problems))
        self.problems = list(problems)


class NotFoundError(PlatformError):
    """The requested thing does not exist."""

    code = "not_found"
    title = "未找到"


class ConflictError(PlatformError):
    """The request clashes with what is already recorded."""

    code = "conflict"
    title = "与已有记录冲突"


class AuthenticationError(PlatformError):
    """The caller is not known."""

    code = "unauthenticated"
    title = "未登录或身份无法确认"


class PermissionDeniedError(PlatformError):
    """The caller is known but may not do this."""

    code = "forbidden"
    title = "无权执行此操作"


class SignatureInvalidError(PlatformError):
    """A signature, key or signed document does not verify."""

    code = "signature_invalid"
    title = "签名校验失败"


class UnavailableError(PlatformError):
    """A dependency is unreachable; the same request may succeed later."""

    code = "unavailable"
    title = "服务暂不可用"
