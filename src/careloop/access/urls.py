from django.urls import path

from careloop.access import views

urlpatterns = [
    path("portal/", views.portal, name="portal"),
    path("portal/messages/", views.portal_message, name="portal-message"),
    path("portal/plans/<int:plan_id>/comments/", views.portal_comment, name="portal-comment"),
    path("portal/plans/<int:plan_id>/done/<str:action_id>/", views.portal_done, name="portal-done"),
    path("portal/plans/<int:plan_id>/pdf/", views.portal_pdf, name="portal-pdf"),
    path("partner/", views.partner, name="partner"),
    path("partner/plans/<int:plan_id>/comments/", views.partner_comment, name="partner-comment"),
    path("access/on-call/", views.on_call, name="on-call"),
    path("access/patients/<int:patient_id>/panel/", views.patient_panel, name="access-panel"),
    path("access/patients/<int:patient_id>/<str:action>/", views.patient_panel_action, name="access-panel-action"),
]
