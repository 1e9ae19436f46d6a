"""AIS-FLU Adult Immunization Status: Influenza (the influenza component of MIPS quality measure 493).

No eCQM exists for it (CMS147 was retired and never converted to FHIR); this follows the measure specification:
patients 19 and older at the start of the period with a qualifying outpatient visit in it, who received an
influenza vaccine on or between July 1 of the year before the period and June 30 of the period's year, or had
anaphylaxis due to the influenza vaccine on or before the end of the period. Exclusions: hospice, death during
the period. Value sets are the VSAC influenza ones used by the eCQMs (CVX vaccines, administration procedures).
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import ADULT_OUTPATIENT, adult_outpatient_encounters
from careloop.quality.engine.exclusions import HOSPICE_VALUESETS, has_hospice_services
from careloop.quality.engine.immunizations import died_during, vaccinated_within
from careloop.quality.engine.period import MS, Span, exists3, le
from careloop.quality.engine.qicore import SNOMED, diagnoses, is_verified, prevalence
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

INFLUENZA_VACCINE = vsac("2.16.840.1.113883.3.526.3.1254")
INFLUENZA_VACCINATION = vsac("2.16.840.1.113883.3.526.3.402")
ANAPHYLAXIS_INFLUENZA_VACCINE = (SNOMED, "471361000124100")


def season(ctx: Context) -> Span:
    """July 1 of the year before the period's start to June 30 of its year (for a calendar-year period)."""
    start = ctx.mp.start
    return Span(start.add_months(-6), start.add_months(6).shift(-MS))


def anaphylaxis(ctx: Context, code: tuple[str, str]) -> bool:
    return exists3(
        le(span.start, ctx.mp.end, day=True)
        for c in diagnoses(ctx, codes=[code])
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_start()
    ip = age is not None and age >= 19 and bool(adult_outpatient_encounters(ctx))
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and (has_hospice_services(ctx) or died_during(ctx, ctx.mp))),
                "numerator": flag(
                    ip
                    and (
                        vaccinated_within(ctx, season(ctx), INFLUENZA_VACCINE, INFLUENZA_VACCINATION)
                        or anaphylaxis(ctx, ANAPHYLAXIS_INFLUENZA_VACCINE)
                    )
                ),
            }
        )
    ]


MEASURE = Measure(
    id="AIS-FLU",
    title="Adult Immunization Status: Influenza",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(*ADULT_OUTPATIENT, INFLUENZA_VACCINE, INFLUENZA_VACCINATION, *HOSPICE_VALUESETS),
    logic=logic,
    official_cases=False,
)
