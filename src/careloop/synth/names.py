"""Names, addresses, phones, languages and race/ethnicity for a Springfield, Massachusetts Medicare panel.

Names are common US names of the 1930s-1960s birth cohorts; places are real towns and ZIP codes of Hampden
and Hampshire counties; phone numbers are all in the 555-01xx range reserved for fiction, so nothing here
can reach a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from careloop.synth.rand import one, ri

FEMALE_FIRST = (
    "Mary Patricia Linda Barbara Elizabeth Susan Margaret Dorothy Betty Nancy Karen Helen Sandra Donna Carol "
    "Sharon Shirley Ruth Joyce Judith Virginia Brenda Frances Janet Deborah Martha Gloria Joan Evelyn Jean "
    "Cheryl Marie Kathleen Ann Diane Alice Judy Rose Beverly Peggy Doris Catherine Theresa Gladys Annie Lois "
    "Wanda Norma Phyllis Elaine Geraldine Loretta Bonnie Connie Rita Gail Sylvia Darlene Lillian Mildred "
    "Irene Ethel Louise Anna Edna Thelma Josephine Bernice Eileen Maureen Marilyn Paula Carolyn Janice Rosemary "
    "Claire Jeanne Denise Roberta Joanne Yvonne Lorraine Constance Priscilla"
).split()
MALE_FIRST = (
    "James Robert John William Richard Charles Donald Thomas Ronald George Joseph David Kenneth Larry Gary "
    "Edward Paul Michael Jerry Frank Raymond Harold Roger Dennis Walter Gerald Billy Jack Arthur Carl Henry "
    "Willie Wayne Eugene Ralph Roy Howard Bobby Stephen Terry Douglas Lawrence Fred Earl Jimmy Harry Johnny "
    "Albert Clarence Samuel Ernest Louis Leonard Melvin Daniel Bruce Dale Danny Glenn Curtis Floyd Calvin "
    "Herman Leroy Francis Norman Russell Alan Philip Peter Maurice Leo Vincent Gordon Stanley Bernard Dennis"
).split()
SURNAMES = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Thomas Taylor Moore Jackson Martin Lee "
    "Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Nelson "
    "Baker Hall Campbell Mitchell Carter Roberts Phillips Evans Turner Parker Collins Edwards Stewart Morris "
    "Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly Howard Cox Ward Richardson Watson Brooks Wood "
    "Gray Bennett Hughes Price Sanders Myers Long Ross Foster Sullivan Russell Fitzgerald Kennedy Burke "
    "Lynch Murray Quinn Doyle Walsh Ryan Brennan Gallagher Leary Moriarty Dubois Gagnon Roy Pelletier "
    "Bouchard Cote Lavoie Fontaine Ciccone Russo Romano Marino Greco Bruno Costa Kowalski Nowak Wisniewski "
    "Lewandowski Zielinski Szymanski O'Brien O'Connor O'Neil O'Malley McCarthy McDonald McLaughlin Harrington "
    "Carey Whitaker Hollister Pomeroy Chapin Bliss Stebbins Dwight Bates Fuller"
).split()
HISPANIC_FEMALE = (
    "María Carmen Rosa Ana Luz Gloria Milagros Ramona Iris Nilda Wanda Lydia Teresa Elena Ivette"
).split()
HISPANIC_MALE = (
    "José Juan Luis Ángel Carlos Jesús Miguel Pedro Ramón Rafael Héctor Víctor Efraín Wilfredo Edwin"
).split()
HISPANIC_SURNAMES = (
    "Rivera Rodríguez Santiago Torres Ortiz Cruz Colón Rosario Vázquez Díaz Figueroa Meléndez Pérez Ramos "
    "Matos Nieves Acevedo Peña García Hernández López González Martínez Sánchez Morales Reyes Soto"
).split()
_OTHER_NAMES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "vi": ("Lan Mai Hoa Thu Huong Linh".split(), "Minh Tuan Hung Dung Thanh Quang".split(),
           "Nguyen Tran Le Pham Hoang Vo Phan Dang".split()),
    "ru": ("Galina Tatiana Olga Lyudmila Valentina Nina".split(), "Vladimir Sergei Nikolai Viktor Yuri Anatoly".split(),
           "Ivanov Petrenko Kovalenko Smirnov Bondarenko Melnyk Shevchenko".split()),
    "pt": ("Maria Fatima Conceição Rosa Lurdes Isabel".split(), "Manuel António Joaquim Fernando Jorge Carlos".split(),
           "Silva Santos Ferreira Pereira Oliveira Costa Medeiros Furtado".split()),
    "zh": ("Mei Ling Hua Xiu Fang Yan".split(), "Wei Jian Ming Hong Gang Jun".split(),
           "Chen Wang Li Zhang Liu Huang Wu Lin".split()),
    "ar": ("Fatima Samira Layla Mariam Huda Nadia".split(), "Ahmed Mohammed Khalil Samir Youssef Omar".split(),
           "Haddad Khoury Saleh Nasser Hamdan Aziz".split()),
}
MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"

LANGUAGES: tuple[tuple[str, str, float], ...] = (
    # (BCP-47, display, share of the panel): Springfield has a large Puerto Rican community and
    # Russian/Ukrainian, Vietnamese and Portuguese speakers.
    ("en", "English", 0.877),
    ("es", "Spanish", 0.085),
    ("ru", "Russian", 0.010),
    ("vi", "Vietnamese", 0.009),
    ("pt", "Portuguese", 0.008),
    ("zh", "Chinese", 0.006),
    ("ar", "Arabic", 0.005),
)

# OMB race categories (urn:oid:2.16.840.1.113883.6.238) for the non-Hispanic-specific draw.
RACES: tuple[tuple[str, str, float], ...] = (
    ("2106-3", "White", 0.80),
    ("2054-5", "Black or African American", 0.15),
    ("2028-9", "Asian", 0.02),
    ("1002-5", "American Indian or Alaska Native", 0.005),
    ("2131-1", "Other Race", 0.025),
)

# (town, state, county, ZIP codes, weight, area code)
TOWNS: tuple[tuple[str, str, str, tuple[str, ...], float, str], ...] = (
    ("Springfield", "MA", "Hampden", ("01103", "01104", "01105", "01107", "01108", "01109", "01118", "01119",
                                       "01128", "01129", "01151"), 0.34, "413"),
    ("Chicopee", "MA", "Hampden", ("01013", "01020", "01022"), 0.10, "413"),
    ("Holyoke", "MA", "Hampden", ("01040",), 0.07, "413"),
    ("West Springfield", "MA", "Hampden", ("01089",), 0.07, "413"),
    ("Agawam", "MA", "Hampden", ("01001", "01030"), 0.05, "413"),
    ("Longmeadow", "MA", "Hampden", ("01106",), 0.04, "413"),
    ("East Longmeadow", "MA", "Hampden", ("01028",), 0.04, "413"),
    ("Ludlow", "MA", "Hampden", ("01056",), 0.04, "413"),
    ("Wilbraham", "MA", "Hampden", ("01095",), 0.04, "413"),
    ("Westfield", "MA", "Hampden", ("01085",), 0.06, "413"),
    ("Southwick", "MA", "Hampden", ("01077",), 0.02, "413"),
    ("Palmer", "MA", "Hampden", ("01069",), 0.02, "413"),
    ("Hampden", "MA", "Hampden", ("01036",), 0.01, "413"),
    ("South Hadley", "MA", "Hampshire", ("01075",), 0.03, "413"),
    ("Granby", "MA", "Hampshire", ("01033",), 0.01, "413"),
    ("Enfield", "CT", "Hartford", ("06082",), 0.02, "860"),
)
_TOWN_WEIGHTS = [t[4] for t in TOWNS]

STREETS = (
    "Main St", "State St", "Sumner Ave", "Dickinson St", "Allen St", "Boston Rd", "Wilbraham Rd", "Carew St",
    "Chestnut St", "Maple St", "Elm St", "Oak St", "Pine St", "Cedar St", "Union St", "Bay St",
    "Plainfield St", "Page Blvd", "Roosevelt Ave", "Belmont Ave", "Island Pond Rd", "Parker St", "Cooley St",
    "Berkshire Ave", "White St", "Liberty St", "Armory St", "Memorial Dr", "Front St", "Center St",
    "Granby Rd", "Meadow St", "Westfield St", "Park Ave", "Prospect St", "High St", "Northampton St",
    "Dwight St", "South St", "Springfield St", "Russell Rd", "College Hwy", "Feeding Hills Rd", "Shaker Rd",
    "Williams St", "Ridge Rd", "Converse St", "Longhill St", "Forest Park Ave", "Bradley Rd", "Fuller Rd",
    "Elm Ct", "Birchwood Ave", "Colonial Ave", "Pleasant St", "School St", "Church St", "Washington St",
)
SENIOR_HOUSING = (
    "Pines & Maples Senior Apts", "Riverview Towers", "Forest Park Manor", "Hillcrest Residences",
    "Chestnut Park Apts", "St. Luke's Home", "Mill River Commons",
)


@dataclass(frozen=True, slots=True)
class Address:
    line: tuple[str, ...]
    city: str
    state: str
    postal_code: str
    county: str
    area_code: str


def weighted(rng: random.Random, items: tuple[tuple[str, str, float], ...]) -> tuple[str, str]:
    r = rng.random()
    acc = 0.0
    for code, display, w in items:
        acc += w
        if r < acc:
            return code, display
    return items[0][0], items[0][1]


def language(rng: random.Random) -> tuple[str, str]:
    return weighted(rng, LANGUAGES)


def person_name(rng: random.Random, female: bool, lang: str, hispanic: bool) -> tuple[str, str, str]:
    """(family, given, middle initial or "")."""
    if lang in _OTHER_NAMES:
        fem, mal, fam = _OTHER_NAMES[lang]
        return one(rng, fam), one(rng, fem if female else mal), ""
    if hispanic:
        family = one(rng, HISPANIC_SURNAMES)
        if rng.random() < 0.15:  # two surnames, often hyphenated in US records
            family = f"{family}-{one(rng, HISPANIC_SURNAMES)}"
        given = one(rng, HISPANIC_FEMALE if female else HISPANIC_MALE)
        return family, given, one(rng, MIDDLE_INITIALS) if rng.random() < 0.3 else ""
    family = one(rng, SURNAMES)
    given = one(rng, FEMALE_FIRST if female else MALE_FIRST)
    return family, given, one(rng, MIDDLE_INITIALS) if rng.random() < 0.6 else ""


def address(rng: random.Random, age: int) -> Address:
    town = rng.choices(TOWNS, weights=_TOWN_WEIGHTS)[0]
    city, state, county, zips, _, area = town
    street = f"{ri(rng, 1, 1999) if rng.random() < 0.9 else ri(rng, 2000, 9899)} {one(rng, STREETS)}"
    r = rng.random()
    senior_share = 0.04 + (0.06 if age >= 80 else 0.0)
    if r < senior_share:
        line: tuple[str, ...] = (street, f"{one(rng, SENIOR_HOUSING)}, Unit {ri(rng, 1, 240)}")
    elif r < senior_share + 0.22:
        line = (street, f"Apt {ri(rng, 1, 4)}{one(rng, 'ABCD')}")
    else:
        line = (street,)
    return Address(line, city, state, one(rng, zips), county, area)


def phone(rng: random.Random, area_code: str) -> str:
    """A phone number in the 555-0100..555-0199 range reserved for fictional use."""
    return f"({area_code}) 555-01{ri(rng, 0, 99):02d}"
