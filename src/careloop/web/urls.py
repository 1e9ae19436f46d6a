from django.urls import path

from careloop.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("mfa/enroll/", views.mfa_enroll, name="mfa-enroll"),
    path("mfa/verify/", views.mfa_verify, name="mfa-verify"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/<int:patient_id>/", views.patient_chart, name="patient-chart"),
    path("audit/", views.audit_home, name="audit-home"),
    path("settings/security/", views.security_settings, name="security-settings"),
    path("healthz", views.healthz, name="healthz"),
]
