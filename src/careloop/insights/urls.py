from django.urls import path

from careloop.insights import views

urlpatterns = [
    path("insights/", views.dashboard, name="insights-dashboard"),
    path("insights/revenue.csv", views.revenue_csv, name="insights-revenue-csv"),
]
