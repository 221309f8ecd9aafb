from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/projects/", permanent=False)),
    # Browsers ask for /favicon.ico whatever the page links; answer with the icon in static/.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.ico"), permanent=False), name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
    path("", include("migrations_app.urls")),
]
