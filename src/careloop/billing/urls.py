from django.urls import path

from careloop.billing import views

urlpatterns = [
    path("billing/", views.month_page, name="billing-month"),
    path("billing/run/", views.run_month, name="billing-run"),
    path("billing/<str:month>/claims.csv", views.month_csv, name="billing-csv"),
    path("billing/<str:month>/patients/<int:patient_id>/", views.patient_month, name="billing-patient-month"),
]
