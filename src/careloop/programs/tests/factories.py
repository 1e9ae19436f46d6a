"""Program test data: a synthetic HETS-style 271 (no public sample exists), practitioners, teams."""

from __future__ import annotations

from careloop.accounts.models import User
from careloop.clinics.models import CareTeam, CareTeamMember, Organization, Practitioner

MBI_A, MBI_B, MBI_C = "1EG4TE5MK73", "2AC3CD4EF56", "3HJ5KM6NP78"


def isa() -> str:
    return ("ISA*00*          *00*          *ZZ*CMS            *ZZ*SUBMITTER      "
            "*260301*1200*^*00501*000000001*0*P*:~")


def x271(*subscribers: str) -> str:
    body = "".join(subscribers)
    return (f"{isa()}GS*HB*CMS*SUBMITTER*20260301*1200*1*X*005010X279A1~ST*271*0001*005010X279A1~"
            f"BHT*0022*11*REF1*20260301*1200~HL*1**20*1~NM1*PR*2*CMS*****PI*CMS~HL*2*1*21*1~"
            f"NM1*1P*2*CLINIC*****XX*1234567893~{body}SE*20*0001~GE*1*1~IEA*1*000000001~")


def subscriber(n: int, mbi: str, *benefits: str) -> str:
    return f"HL*{n + 2}*2*22*0~NM1*IL*1*DOE*JANE****MI*{mbi}~DMG*D8*19500101*F~" + "".join(benefits)


def qmb_eb(start: str, end: str = "", *, via_msg: bool = False, eb01: str = "R") -> str:
    dates = f"DTP*290*RD8*{start}-{end}~" if end else f"DTP*290*D8*{start}~"
    if via_msg:
        return f"EB*{eb01}**30*MC~{dates}MSG*Qualified Medicare Beneficiary~"
    return f"EB*{eb01}**30**QMB~{dates}"


def make_practitioner(org: Organization, npi: str = "1234567893") -> Practitioner:
    return Practitioner.objects.create(organization=org, family="Osler", given="Wil", credentials="MD", npi=npi)


def make_team(org: Organization, members: list[tuple[User, int]]) -> CareTeam:
    team = CareTeam.objects.create(organization=org, name="Team 1")
    for user, capacity in members:
        CareTeamMember.objects.create(organization=org, team=team, user=user, role=user.role, capacity=capacity)
    return team
