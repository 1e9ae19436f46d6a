from django.urls import path

from careloop.programs import views

urlpatterns = [
    path("programs/population/", views.population_page, name="programs-population"),
    path("programs/cohort/", views.cohort_page, name="programs-cohort"),
    path("programs/enroll-first/", views.enroll_first_page, name="programs-enroll-first"),
    path("programs/patients/<int:patient_id>/panel/", views.panel, name="programs-panel"),
    path("programs/patients/<int:patient_id>/qmb/", views.qmb_enter, name="programs-qmb"),
    path("programs/patients/<int:patient_id>/device-days/", views.device_day, name="programs-device-day"),
    path("programs/patients/<int:patient_id>/enroll/", views.enroll, name="programs-enroll"),
    path("programs/patients/<int:patient_id>/enrollments/<int:enrollment_id>/disenroll/", views.disenroll,
         name="programs-disenroll"),
]
