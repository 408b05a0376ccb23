"""Redaction: every secret registered here is replaced by MASK in whatever hafab prints."""

MASK = "**********"

_registered = set()


def register(secret):
    """Remember a secret so that redact() hides it everywhere from now on."""
    if secret:
        _registered.add(secret)


def redact(obj):
    """Copy of obj with every registered secret replaced by MASK (strings inside dicts/lists too)."""
    if isinstance(obj, str):
        for secret in sorted(_registered, key=len, reverse=True):
            if secret in obj:
                obj = obj.replace(secret, MASK)
        return obj
    if isinstance(obj, dict):
        return {redact(k): redact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact(item) for item in obj)
    return obj
