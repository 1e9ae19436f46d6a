from django.urls import path

from careloop.compliance import views

urlpatterns = [
    path("compliance/", views.dashboard, name="compliance-dashboard"),
    path("compliance/capabilities/", views.add_capability, name="compliance-add-capability"),
    path("compliance/capabilities/<int:capability_id>/end/", views.end_capability, name="compliance-end-capability"),
    path("compliance/pathways/", views.add_pathway, name="compliance-add-pathway"),
    path("compliance/patients/<int:patient_id>/packet/", views.packet, name="compliance-packet"),
]
