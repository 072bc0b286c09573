"""Request and response guards that apply to every page: hostile input refused, case data never cached."""

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.http import HttpResponseBadRequest


def _has_nul(values) -> bool:
    return any("\x00" in value for _, items in values.lists() for value in items if isinstance(value, str))


class RefuseNulCharacterMiddleware:
    """Answer 400 to a NUL character in the path, the query or a form field.

    No text of this application holds one, and PostgreSQL refuses it in a query with an error
    that would otherwise surface as a 500 wherever a parameter reaches the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        post = request.POST if request.method == "POST" else None
        if "\x00" in request.path or _has_nul(request.GET) or (post is not None and _has_nul(post)):
            return HttpResponseBadRequest("A NUL character is not allowed in a request.", content_type="text/plain")
        return self.get_response(request)


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every page a signed-in user gets, and on every error page.

    Such pages carry case data (protected health information) that no browser or proxy cache may
    keep. Static files are served before this (whitenoise) and stay cacheable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or response.status_code >= 400:
            response["Cache-Control"] = "no-store, private"
        return response


def client_address(request) -> str | None:
    """The client's address, trusting X-Forwarded-For only as far as our own proxies wrote it.

    Each of the IMR_TRUSTED_PROXIES proxies in front of the application appends the address it
    received from; what a client wrote there itself is further left and never believed.
    """
    proxies = settings.IMR_TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class AuditAddressMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware with the address every history entry records taken from client_address."""

    @staticmethod
    def _get_remote_addr(request):
        return client_address(request)
