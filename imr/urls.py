"""Root URLs: the application, authentication, the admin and the health check."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from health_check.views import HealthCheckView

from reviews.forms.auth import LoginForm

admin.site.site_header = "IMR Desk administration"
admin.site.site_title = "IMR Desk admin"

urlpatterns = [
    path("", include("reviews.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
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
