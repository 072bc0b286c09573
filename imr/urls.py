"""Root URLs: the application, sign-in and account pages (django-allauth), the admin and the health check."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import Http404
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.defaults import page_not_found
from django.views.generic import RedirectView
from health_check.views import HealthCheckView

admin.site.site_header = "IMR Desk administration"
admin.site.site_title = "IMR Desk admin"
# The admin signs in through allauth's login, so its rate limits and two-factor authentication apply there too.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", include("reviews.urls")),
    # An admin keeps each user's e-mail address (the one password resets go to): no self-service changes.
    path("accounts/email/", page_not_found, {"exception": Http404()}),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page links; the admin's pages link none.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True)),
    path(
        "healthz",
        HealthCheckView.as_view(
            checks=[
                "health_check.checks.Database",
                "health_check.checks.Cache",
                "health_check.checks.Storage",
                "reviews.health.Broker",
                "reviews.health.Worker",
                "reviews.health.Outbox",
            ]
        ),
        name="healthz",
    ),
]
