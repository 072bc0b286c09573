"""Template context shared by every page: the user's role for the navigation."""

from django.conf import settings

from .permissions import is_coordinator, is_reviewer


def navigation(request):
    user = request.user
    return {
        "is_coordinator": is_coordinator(user),
        "is_reviewer": is_reviewer(user),
        "organization_short_name": settings.IMR_ORGANIZATION_SHORT_NAME,
    }
