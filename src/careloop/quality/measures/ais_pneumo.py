"""AIS-PNEUMO Adult Immunization Status: Pneumococcal (the pneumococcal component of MIPS quality measure 493).

No FHIR eCQM exists (CMS127 was retired); this follows the measure specification: patients 66 and older at the
start of the period with a qualifying outpatient visit in it, who received a pneumococcal vaccine on or after
their 19th birthday and by the end of the period, or had anaphylaxis due to the pneumococcal vaccine on or before
the end of the period. Exclusions: hospice, death during the period.
"""

from __future__ import annotations

import datetime as dt

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import ADULT_OUTPATIENT, adult_outpatient_encounters
from careloop.quality.engine.exclusions import HOSPICE_VALUESETS, has_hospice_services
from careloop.quality.engine.immunizations import died_during, vaccinated_within
from careloop.quality.engine.period import Point, Span, day_start
from careloop.quality.engine.qicore import SNOMED
from careloop.quality.measures.ais_flu import anaphylaxis
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

PNEUMOCOCCAL_VACCINE = vsac("2.16.840.1.113883.3.464.1003.110.12.1027")
PNEUMOCOCCAL_VACCINE_ADMINISTERED = vsac("2.16.840.1.113883.3.464.1003.110.12.1034")
ANAPHYLAXIS_PNEUMOCOCCAL_VACCINE = (SNOMED, "471141000124102")


def since_19th_birthday(ctx: Context) -> Span | None:
    birth = ctx.data.birth_date
    if birth is None:
        return None
    try:
        nineteenth = birth.replace(year=birth.year + 19)
    except ValueError:  # born on Feb 29
        nineteenth = dt.date(birth.year + 19, 3, 1)
    return Span(Point.at(day_start(nineteenth)), ctx.mp.end)


def vaccinated(ctx: Context) -> bool:
    window = since_19th_birthday(ctx)
    if window is not None and vaccinated_within(ctx, window, PNEUMOCOCCAL_VACCINE, PNEUMOCOCCAL_VACCINE_ADMINISTERED):
        return True
    return anaphylaxis(ctx, ANAPHYLAXIS_PNEUMOCOCCAL_VACCINE)


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_start()
    ip = age is not None and age >= 66 and bool(adult_outpatient_encounters(ctx))
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and (has_hospice_services(ctx) or died_during(ctx, ctx.mp))),
                "numerator": flag(ip and vaccinated(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="AIS-PNEUMO",
    title="Adult Immunization Status: Pneumococcal",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(*ADULT_OUTPATIENT, PNEUMOCOCCAL_VACCINE, PNEUMOCOCCAL_VACCINE_ADMINISTERED, *HOSPICE_VALUESETS),
    logic=logic,
    official_cases=False,
)
